# A node on the containerd 1.7 line (config schema version 2), for clusters
# that have not moved to containerd 2 yet.

containerd {
  version = "1.7.34"
}

runc { version = "1.4.3" }
cni { version = "1.9.1" }
crictl { version = "1.36.0" }

runtime "runc" {
  type    = "runc"
  default = true
}
