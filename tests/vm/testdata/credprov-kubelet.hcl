# The kubelet of the credential provider test without a provider (see credprov.hcl).
kubelet {
  version = var.kubelet_version
  sha256  = var.kubelet_sha256
  mode    = "standalone"
  start   = true
  config = {
    staticPodPath  = "/etc/kubernetes/manifests"
    authentication = { anonymous = { enabled = true }, webhook = { enabled = false } }
    authorization  = { mode = "AlwaysAllow" }
    failSwapOn     = false
  }
}
