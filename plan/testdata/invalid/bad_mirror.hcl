# want 3: Invalid URL
mirror {
  urls = ["ftp://mirror.internal/nodeup"]
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
