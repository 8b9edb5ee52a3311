# want 10: Invalid overhead
containerd { version = "2.3.4" }
kata { version = "3.32.0" }
runtime "runc" {
  default = true
}
runtime "kata-qemu" {
  type       = "kata"
  hypervisor = "qemu"
  overhead   = { cpu = "a lot" }
}
runc { version = "1.4.3" }
