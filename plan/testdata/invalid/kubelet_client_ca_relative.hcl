# want 7: Relative path
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  mode           = "kubeconfig"
  client_ca_file = "pki/ca.crt"
}
