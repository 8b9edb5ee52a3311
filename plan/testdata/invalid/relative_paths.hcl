# want 4: Relative path
# want 8: Relative path
containerd {
  socket  = "run/containerd/containerd.sock"
  version = "2.3.4"
}
cni {
  bin_dir = "opt/cni/bin"
  version = "1.9.1"
}
runc { version = "1.4.3" }
