# want 7: kubeconfig mode without a client CA
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  version = "1.34.11"
  mode    = "kubeconfig"
}
