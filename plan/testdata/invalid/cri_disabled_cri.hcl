# want 4: CRI plugin disabled
containerd {
  version = "1.7.34"
  config  = "disabled_plugins = [\"cri\"]"
}
runc { version = "1.4.3" }
