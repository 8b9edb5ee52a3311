# want 4: Missing sha256
containerd {
  version = "2.3.4"
  url     = "https://downloads.internal/containerd-2.3.4-linux-amd64.tar.gz"
}
runc { version = "1.4.3" }
