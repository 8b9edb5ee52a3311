# nodeup renders CredentialProviderConfig v1, which kubelets read from
# 1.26 on; and a Windows node is rendered only.
# want 9: kubelet too old for credential providers
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  mode           = "kubeconfig"
  client_ca_file = "/etc/kubernetes/pki/ca.crt"
  version        = "1.25.16"
  sha256         = "6666666666666666666666666666666666666666666666666666666666666666"
  credential_provider "test" {
    url                    = "https://artifacts.example/test"
    sha256                 = "7777777777777777777777777777777777777777777777777777777777777777"
    match_images           = ["registry.internal:5000"]
    default_cache_duration = "1h"
  }
}
