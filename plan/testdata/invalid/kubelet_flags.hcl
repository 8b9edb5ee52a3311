# want 5: Invalid kubelet flag
containerd { version = "2.3.4" }
kubelet {
  config = { maxPods = 110 }
  flags  = ["--node-labels=role=worker", "v=2"]
}
runc { version = "1.4.3" }
