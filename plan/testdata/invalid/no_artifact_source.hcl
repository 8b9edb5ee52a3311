# want 3: No artifact source
mirror {
  upstream = false
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
