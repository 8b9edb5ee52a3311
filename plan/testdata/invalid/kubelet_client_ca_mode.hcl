# want 6: client_ca_file without mode = "kubeconfig"
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  client_ca_file = "/etc/kubernetes/pki/ca.crt"
}
