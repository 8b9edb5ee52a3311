# want 4: One url for several architectures
containerd {
  version = "2.3.4"
  url     = "https://downloads.internal/containerd-2.3.4.tar.gz"
  sha256  = { amd64 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", arm64 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" }
}
runc { version = "1.4.3" }
