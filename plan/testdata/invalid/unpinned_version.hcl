# want 3: Version not pinned
containerd {
  version = "2.3.99"
}
runc { version = "1.4.3" }
