# The same runtimes in containerd 1.7's schema (version 2), crun from packages.
containerd {
  version       = "1.7.34"
  cdi           = true
  cdi_spec_dirs = ["/etc/cdi"]
}
runc { version = "1.4.3" }
crun { source = "package" }

runtime "runc" {
  type    = "runc"
  default = true
}

runtime "crun" {
  type        = "crun"
  snapshotter = "native"
}

runtime "nvidia" {
  type   = "nvidia"
  binary = "/usr/local/nvidia/toolkit/nvidia-container-runtime"
}
