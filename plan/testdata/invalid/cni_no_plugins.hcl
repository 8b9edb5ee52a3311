# want 5: No CNI plugins
containerd { version = "2.3.4" }
cni {
  version = "1.9.1"
  plugins = []
}
runc { version = "1.4.3" }
