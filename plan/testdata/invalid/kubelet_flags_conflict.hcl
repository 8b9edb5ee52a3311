# kubelet.flags may not contradict what nodeup renders for the kubelet.
# want 11: Conflicting kubelet flag
# want 12: Conflicting kubelet flag
# want 13: Conflicting kubelet flag
# want 14: Conflicting kubelet flag
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  config = { maxPods = 110 }
  flags = [
    "--cgroup-driver=cgroupfs",
    "--container-runtime-endpoint=unix:///run/crio/crio.sock",
    "--config=/etc/kubernetes/kubelet.yaml",
    "--max-pods=50",
    "--node-labels=role=worker",
  ]
}
