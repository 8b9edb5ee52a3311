# The kubelet of the credential provider test with the test's provider
# (tests/vm/credprovider), which gives the test registry's username and password for its
# images; it logs each image it is asked for.
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
  credential_provider "nodeup-test" {
    url                    = "https://artifacts.nodeup.test/credprovider/v1/credprovider-{arch}"
    sha256                 = var.credprovider_sha256
    match_images           = ["registry.nodeup.test:5000"]
    default_cache_duration = "1m"
    env = {
      NODEUP_TEST_REGISTRY_USER     = var.registry_user
      NODEUP_TEST_REGISTRY_PASSWORD = var.registry_password
      NODEUP_TEST_CREDPROVIDER_LOG  = "/var/log/nodeup-test-credprovider.log"
    }
  }
}
