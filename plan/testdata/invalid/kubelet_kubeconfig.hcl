# want 10: Relative path
# want 11: overrides kubelet.kubeconfig
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  version    = "1.34.11"
  mode       = "kubeconfig"
  start      = true
  kubeconfig = "kubelet.conf"
  flags      = ["--kubeconfig=/etc/kubernetes/admin.conf"]
}
