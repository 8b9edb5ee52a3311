# The CNI network configuration and the plugins in one directory.
# want 7: Overlapping destinations
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni {
  version  = "1.9.1"
  conf_dir = "/opt/cni/bin"
}
