containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  version        = "1.34.11"
  mode           = "kubeconfig"
  kubeconfig     = "/etc/kubernetes/node.kubeconfig"
  client_ca_file = "/etc/kubernetes/pki/ca.crt"
  flags          = ["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap.kubeconfig"]
  credential_provider "test-provider" {
    url                    = "https://artifacts.example/test-provider-{arch}"
    sha256                 = "4444444444444444444444444444444444444444444444444444444444444444"
    match_images           = ["registry.internal:5000"]
    default_cache_duration = "0s"
  }
}
