# want 3: Unsupported attribute
containerd {
  version = var.containerd_version
}
