# want 9: containerd.config overrides containerd.cdi
# want 11: containerd.config overrides runtime "crun" snapshotter
# want 13: containerd.config overrides the crun block
containerd {
  version = "2.3.4"
  cdi     = true
  config  = <<-EOT
    [plugins.'io.containerd.cri.v1.runtime']
      enable_cdi = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.crun]
      snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.crun.options]
      BinaryName = "/usr/bin/runc"
  EOT
}
runc { version = "1.4.3" }
crun { source = "package" }
runtime "runc" { default = true }
runtime "crun" {
  type        = "crun"
  snapshotter = "devmapper"
}
