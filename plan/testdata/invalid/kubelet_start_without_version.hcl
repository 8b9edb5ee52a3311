# want 4: kubelet start without a binary
containerd { version = "2.3.4" }
kubelet {
  start = true
}
runc { version = "1.4.3" }
