# want 4: Unsupported block type
containerd { version = "2.3.4" }

dockerd {
  version = "24.0"
}
runc { version = "1.4.3" }
