# want 8: Invalid sandbox image
# want 9: Invalid config_version
# want 13: Invalid URL
# want 15: Duplicate registry
# want 16: Invalid registry host
containerd {
  version        = "2.3.4"
  sandbox_image  = "registry.k8s.io/pause 3.10"
  config_version = 5
  registry "docker.io" {
  }
  registry "quay.io" {
    mirrors = ["mirror.internal:5000"]
  }
  registry "docker.io" {}
  registry "https://ghcr.io/v2" {}
}
runc { version = "1.4.3" }
