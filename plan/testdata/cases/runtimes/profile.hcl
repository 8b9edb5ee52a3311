# crun (a release), nvidia with CDI, and a per-runtime snapshotter.
containerd {
  version       = "2.3.4"
  cdi           = true
  cdi_spec_dirs = ["/etc/cdi", "/var/run/cdi"]
}
runc { version = "1.4.3" }
crun {
  version = "1.19.1"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000001"
}

runtime "runc" {
  type    = "runc"
  default = true
}

runtime "crun" {
  type        = "crun"
  snapshotter = "native"
}

runtime "nvidia" { type = "nvidia" }
