# A URL path that climbs with ".." would be written outside a bundle.
# want 6: its path has a ".." segment
containerd {
  version = "2.3.4"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
  url     = "https://example.com/releases/../../../../tmp/evil.tar.gz"
}
runc { version = "1.4.3" }
