# want 7: crun runtime without crun
# want 13: Relative path
# want 17: binary on a runc runtime
# want 19: Invalid snapshotter
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
runtime "crun" {
  type = "crun"
}
runtime "nvidia" {
  type    = "nvidia"
  default = true
  binary  = "nvidia-container-runtime"
}
runtime "runc" {
  type        = "runc"
  binary      = "/usr/bin/runc"
  # a path is not a plugin name
  snapshotter = "/var/lib/devmapper"
}
