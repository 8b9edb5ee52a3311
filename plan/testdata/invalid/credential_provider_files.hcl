# The provider directory and configuration are the kubelet block's: no
# file block writes there.
# want 17: Path owned by another setting
# want 20: Path owned by another setting
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  version = "1.36.4"
  credential_provider "test" {
    url                    = "https://artifacts.example/test"
    sha256                 = "7777777777777777777777777777777777777777777777777777777777777777"
    match_images           = ["registry.internal:5000"]
    default_cache_duration = "1h"
    env                    = { A = "1" }
  }
}
file "/usr/local/lib/nodeup/credential-providers/other" {
  content = "#!/bin/sh\n"
}
file "/etc/kubernetes/image-credential-provider-config.yaml" {
  content = "{}\n"
}
