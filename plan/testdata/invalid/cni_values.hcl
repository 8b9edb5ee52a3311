# want 6: Invalid CNI plugin name
# want 7: Relative path
containerd { version = "2.3.4" }
cni {
  version = "1.9.1"
  plugins = ["bridge", "host local"]
  bin_dir = "./bin"
}
runc { version = "1.4.3" }
