# want 6: Invalid runtime handler name
containerd { version = "2.3.4" }
runtime "runc" {
  default = true
}
runtime "Kata_QEMU" {
  type = "runc"
}
runc { version = "1.4.3" }
