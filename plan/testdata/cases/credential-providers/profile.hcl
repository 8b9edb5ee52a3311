# A kubeadm worker that pulls from ECR and from an internal registry
# through kubelet image credential providers.
variable "registry_password" {
  default   = "s3cr3t-registry-password"
  sensitive = true
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  version = "1.36.4"
  start   = false
  credential_provider "ecr-credential-provider" {
    version = "1.31.0"
    url     = "https://artifacts.example/cloud-provider-aws/v1.31.0/linux/{arch}/ecr-credential-provider-linux-{arch}"
    sha256 = {
      amd64 = "1111111111111111111111111111111111111111111111111111111111111111"
      arm64 = "2222222222222222222222222222222222222222222222222222222222222222"
    }
    match_images           = ["*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn"]
    default_cache_duration = "12h"
    env                    = { AWS_PROFILE = "nodes" }
  }
  credential_provider "internal-registry" {
    url                    = "https://artifacts.example/internal-registry-credential-provider.tar.gz"
    sha256                 = "3333333333333333333333333333333333333333333333333333333333333333"
    match_images           = ["registry.internal:5000", "*.registry.internal/team"]
    default_cache_duration = "10m"
    args                   = ["--cache-dir=/var/cache/internal-registry"]
    env                    = { REGISTRY_USER = "node", REGISTRY_PASSWORD = var.registry_password }
    api_version            = "credentialprovider.kubelet.k8s.io/v1beta1"
  }
}
