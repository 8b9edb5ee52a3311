# want 7: Invalid runtime type
# want 11: hypervisor on a runc runtime
# want 15: Unknown hypervisor
containerd { version = "2.3.4" }
kata { version = "3.32.0" }
runtime "gvisor" {
  type = "runsc"
}
runtime "runc" {
  default    = true
  hypervisor = "qemu"
}
runtime "kata-vbox" {
  type       = "kata"
  hypervisor = "virtualbox"
}
runc { version = "1.4.3" }
