# Schema 3 (containerd 2.0-2.2): wiping the runtimes, the CNI conf_dir and
# the pinned sandbox image are the typed settings' too.
# want 11: containerd.config overrides runtime "runc" type
# want 13: containerd.config overrides cni.conf_dir
# want 15: containerd.config overrides containerd.sandbox_image
containerd {
  version = "2.2.7"
  sandbox_image = "registry.internal/pause:3.10"
  config  = <<-EOT
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      runtimes = []
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      conf_dir = "/etc/cni/other"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "registry.k8s.io/pause:3.9"
  EOT
}
runc { version = "1.4.3" }
cni { version = "1.9.1" }
