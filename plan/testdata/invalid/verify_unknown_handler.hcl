# want 4: Unknown handler
containerd { version = "2.3.4" }
verify {
  handlers = ["runc", "gvisor"]
}
