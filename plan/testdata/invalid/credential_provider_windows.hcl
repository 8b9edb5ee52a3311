# A Windows node is rendered only: nodeup installs no provider there.
# want 7: credential_provider on Windows
node { os = "windows" }
containerd { version = "2.3.4" }
kubelet {
  version = "1.36.4"
  credential_provider "test" {
    url                    = "https://artifacts.example/test.exe"
    sha256                 = "7777777777777777777777777777777777777777777777777777777777777777"
    match_images           = ["registry.internal:5000"]
    default_cache_duration = "1h"
  }
}
