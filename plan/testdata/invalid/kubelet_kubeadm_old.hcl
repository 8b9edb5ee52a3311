# want 7: With kubelet.mode = "kubeadm" nodeup leaves kubeadm's /var/lib/kubelet/config.yaml alone
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  sha256  = "1111111111111111111111111111111111111111111111111111111111111111"
  version = "1.29.4"
}
