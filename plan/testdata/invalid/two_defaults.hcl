# want 9: Two default runtimes
containerd { version = "2.3.4" }
kata { version = "3.32.0" }
runtime "runc" {
  default = true
}
runtime "kata-qemu" {
  type    = "kata"
  default = true
}
runc { version = "1.4.3" }
