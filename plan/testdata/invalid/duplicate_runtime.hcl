# want 7: Duplicate runtime
containerd { version = "2.3.4" }
runtime "runc" {
  default = true
}

runtime "runc" {
  type = "runc"
}
runc { version = "1.4.3" }
