# want 7: Unknown architecture
# want 11: Malformed sha256
# want 15: One sha256 for two architectures
# want 19: Incorrect attribute value type
containerd {
  version = "2.3.99"
  sha256  = { amd64 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", riscv64 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" }
}
runc {
  version = "1.4.99"
  sha256  = { amd64 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", arm64 = "ABC" }
}
crictl {
  version = "1.99.0"
  sha256  = { amd64 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", arm64 = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" }
}
kata {
  version = "3.99.0"
  sha256  = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
}
