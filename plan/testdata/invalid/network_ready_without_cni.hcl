# want 4: network_ready without CNI
containerd { version = "2.3.4" }
verify {
  network_ready = true
}
runc { version = "1.4.3" }
