# want 4: Unsupported argument
containerd {
  version = "2.3.4"
  sockett = "/run/containerd/containerd.sock"
}
runc { version = "1.4.3" }
