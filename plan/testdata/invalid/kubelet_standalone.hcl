# want 11: Standalone kubelet with webhook authentication
# want 12: Standalone kubelet with webhook authorization
# want 15: overrides kubelet.mode = "standalone"
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  version = "1.34.11"
  mode    = "standalone"
  config = {
    authentication = { webhook = { enabled = true } }
    authorization  = { mode = "Webhook" }
    staticPodPath  = "/etc/kubernetes/manifests"
  }
  flags = ["--kubeconfig=/etc/kubernetes/admin.conf"]
}
