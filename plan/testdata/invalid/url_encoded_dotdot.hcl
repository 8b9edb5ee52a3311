# Percent-encoded dot segments are dot segments too.
# want 8: its path has a ".." segment (written %2e%2e)
# want 13: slash written inside a segment
containerd { version = "2.3.4" }
runc {
  version = "1.4.3"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
  url     = "https://example.com/a/%2e%2e/%2e%2e/etc/cron.d/x"
}
crictl {
  version = "1.34.0"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
  url     = "https://example.com/a/..%2f..%2fx"
}
