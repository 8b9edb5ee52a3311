# want 6: Version not pinned
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
crun {
  # nodeup pins no crun release
  version = "1.19.1"
}
runtime "runc" { default = true }
runtime "crun" { type = "crun" }
