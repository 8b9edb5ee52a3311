# want 8: No sha256 for arm64
# want 13: No sha256 for arm64
node { arch = "arm64" }

containerd {
  version = "2.3.99"
  # a sum for amd64 only, and 2.3.99 is not pinned
  sha256 = { amd64 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
}
runc {
  version = "1.4.3"
  url     = "https://downloads.internal/runc-1.4.3.{arch}"
  sha256  = { amd64 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" }
}
