# want 6: crun too old for containerd 2
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
crun {
  # Debian 12's crun: OCI specs of version 1.0 only
  version = "1.8.1"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
}
runtime "runc" { default = true }
runtime "crun" { type = "crun" }
