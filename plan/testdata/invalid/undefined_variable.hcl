# want 3: Unsupported attribute
containerd {
  version = var.containerd_version
}
runc { version = "1.4.3" }
