# want 7: Unknown KubeletConfiguration field
containerd { version = "2.3.4" }

kubelet {
  config = {
    maxPods    = 110
    maxPodz    = 10
  }
}
runc { version = "1.4.3" }
