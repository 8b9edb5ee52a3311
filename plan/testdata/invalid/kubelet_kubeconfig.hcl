# want 10: Relative path
# want 12: overrides kubelet.kubeconfig
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  version    = "1.34.11"
  mode       = "kubeconfig"
  start      = true
  kubeconfig = "kubelet.conf"
  client_ca_file = "/etc/kubernetes/pki/ca.crt"
  flags      = ["--kubeconfig=/etc/kubernetes/admin.conf"]
}
