# want 4: Invalid timeout
containerd { version = "2.3.4" }
verify {
  timeout = "soon"
}
runc { version = "1.4.3" }
