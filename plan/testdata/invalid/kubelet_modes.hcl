# want 8: Invalid kubelet mode
# want 11: kubeconfig without mode = "kubeconfig"
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  version    = "1.34.11"
  mode       = "cluster"
  start      = true
  config     = { maxPods = 10 }
  kubeconfig = "/etc/kubernetes/kubelet.conf"
}
