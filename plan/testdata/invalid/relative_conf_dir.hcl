# want 5: Relative path
containerd { version = "2.3.4" }
cni {
  version  = "1.9.1"
  conf_dir = "etc/cni/net.d"
}
runc { version = "1.4.3" }
