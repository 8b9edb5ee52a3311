# containerd 2.x: switching off the CRI runtime plugin, or CRI by its short
# name, disables CRI as much as the 1.x plugin id does.
# want 7: CRI plugin disabled
containerd {
  version = "2.3.4"
  config  = <<-EOT
    disabled_plugins = ["io.containerd.cri.v1.runtime"]
  EOT
}
runc { version = "1.4.3" }
