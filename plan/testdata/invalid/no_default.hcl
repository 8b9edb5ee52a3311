# want 3: No default runtime
containerd { version = "2.3.4" }
runtime "runc" {
  type = "runc"
}
