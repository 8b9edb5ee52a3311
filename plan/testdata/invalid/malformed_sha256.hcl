# want 4: Malformed sha256
containerd {
  version = "2.3.99"
  sha256  = "abc123"
}
runc { version = "1.4.3" }
