# want 4: Unknown handler
containerd { version = "2.3.4" }
verify {
  handlers = ["runc", "gvisor"]
}
runc { version = "1.4.3" }
