# want 13: Invalid URL
# want 14: Unknown capability
# want 15: Invalid certificate
# want 16: client_key without client_cert
# want 17: Invalid header name
# want 18: Invalid header value
# want 20: Invalid URL
# want 23: Duplicate host
# want 25: Incorrect attribute value type
containerd {
  version = "2.3.4"
  registry "registry.internal:5000" {
    server       = "registry.internal:5000"
    capabilities = ["pull", "fetch"]
    ca           = "not a certificate"
    client_key   = "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"
    headers = { "Bad Header" = "x",
      X-Token = ["a", "b\nc"] }
    mirrors = ["https://mirror.internal"]
    host "ftp://mirror.internal" {}
    host "https://mirror.internal" {}
    host "https://other.internal" {}
    host "https://other.internal" {
      capabilities = ["pull"]
      headers      = "Authorization: x"
    }
  }
}
runc { version = "1.4.3" }
