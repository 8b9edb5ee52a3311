# want 6: Unknown KubeletConfiguration field
containerd { version = "2.3.4" }
kubelet {
  config = {
    maxPods = 110
    authentication = { anonymous = { enabled = false }, webhok = { enabled = true } }
  }
}
runc { version = "1.4.3" }
