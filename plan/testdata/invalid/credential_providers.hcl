# credential_provider blocks are checked as the kubelet reads its
# CredentialProviderConfig, and as nodeup installs each binary.
# want 23: Invalid credential provider name
# want 24: Invalid version
# want 25: Missing sha256
# want 26: Invalid match_images pattern
# want 26: Invalid match_images pattern
# want 26: Invalid match_images pattern
# want 26: Invalid match_images pattern
# want 27: Invalid duration
# want 28: Invalid environment variable name
# want 29: Unknown api_version
# want 31: Missing url
# want 31: Missing default_cache_duration
# want 32: No match_images
# want 34: Duplicate credential provider
# want 40: Conflicting kubelet flag
# want 41: Conflicting kubelet flag
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  version = "1.36.4"
  credential_provider "../escape" {
    version                = "v1.0"
    url                    = "https://artifacts.example/provider"
    match_images           = ["https://registry.io", "reg?.io", "registry.io:port", "registry.io/*/team"]
    default_cache_duration = "12 hours"
    env                    = { "BAD-NAME" = "x" }
    api_version            = "credentialprovider.kubelet.k8s.io/v2"
  }
  credential_provider "nourl" {
    match_images = []
  }
  credential_provider "nourl" {
    url                    = "https://artifacts.example/provider2"
    sha256                 = "5555555555555555555555555555555555555555555555555555555555555555"
    match_images           = ["registry.io"]
    default_cache_duration = "1h"
  }
  flags = ["--image-credential-provider-config=/etc/other.yaml",
  "--image-credential-provider-bin-dir=/opt/providers"]
}
