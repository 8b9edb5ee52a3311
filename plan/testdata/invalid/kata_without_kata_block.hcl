# want 7: kata runtime without kata
containerd { version = "2.3.4" }
runtime "runc" {
  default = true
}

runtime "kata-qemu" {
  type = "kata"
}
runc { version = "1.4.3" }
