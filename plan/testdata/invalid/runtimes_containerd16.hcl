# want 7: CDI before containerd 1.7
# want 14: snapshotter before containerd 1.7
containerd {
  source        = "package"
  version       = "1.6.20~ds1-1+b1"
  cdi_spec_dirs = ["/etc/cdi"]
  cdi           = true
}
runc { source = "package" }
runtime "runc" {
  type        = "runc"
  default     = true
  # containerd 1.6 has no per-runtime snapshotter
  snapshotter = "native"
}
