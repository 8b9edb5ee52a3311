# want 7: Did you mean "fc"?
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kata { version = "3.32.0" }
runtime "kata-fc" {
  type       = "kata"
  hypervisor = "firecracker"
}
runtime "runc" {
  default = true
}
