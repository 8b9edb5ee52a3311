# want 3: No default runtime
containerd { version = "2.3.4" }
runtime "runc" {
  type = "runc"
}
runc { version = "1.4.3" }
