# want 7: client_cert without client_key
# want 21: Invalid client key
# want 22: Invalid certificate
containerd {
  version = "2.3.4"
  registry "registry.internal:5000" {
    client_cert = <<-EOT
      -----BEGIN CERTIFICATE-----
      MIIBJDCBywIUIsCCFaeIMvKCWeDy5Fc+RkSJK0IwCgYIKoZIzj0EAwIwGTEXMBUG
      A1UEAwwObm9kZXVwIHRlc3QgQ0EwIBcNMjYxMjA3MTU1MjQ4WhgPMjEyNjExMTMx
      NTUyNDhaMA8xDTALBgNVBAMMBG5vZGUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
      AAQQ7q2ZnSrw9jMoe/mDHrXxyCsp3mvMFoEdoJqkhFpLQ0Yva34AvCEo9nz0fTll
      usl4rYdsgK5R+m0p8fipK/c0MAoGCCqGSM49BAMCA0gAMEUCIBnXpMn0CG2IyB5/
      dh0zl9o+HXN5yf7jijkr1f6aUjRlAiEAkMuGWAq6Lry9j2ZwgujPukOIllKr0iqx
      tl1TjQafC84=
      -----END CERTIFICATE-----
    EOT
    host "https://mirror.internal" {
      # the CA's certificate with the client's key: they do not match
      client_cert = var.ca
      client_key  = var.key
      ca          = var.key
    }
  }
}
runc { version = "1.4.3" }
variable "ca" {
  default = <<-EOT
    -----BEGIN CERTIFICATE-----
    MIIBiDCCAS+gAwIBAgIUevF/w9Vq56rlenPDGrWIJsWDCAQwCgYIKoZIzj0EAwIw
    GTEXMBUGA1UEAwwObm9kZXVwIHRlc3QgQ0EwIBcNMjYxMjA3MTU1MjQ4WhgPMjEy
    NjExMTMxNTUyNDhaMBkxFzAVBgNVBAMMDm5vZGV1cCB0ZXN0IENBMFkwEwYHKoZI
    zj0CAQYIKoZIzj0DAQcDQgAETfhbFoldS8kTTbVGSIrRvZECwpLb6KpXbZYxmxwx
    5shxXda1N8M6yTyp0oODrwlUVGRithlwlBZF1JtTLKMfDqNTMFEwHQYDVR0OBBYE
    FGXT3zCv4bpTyGY0+7HOve9cGpTZMB8GA1UdIwQYMBaAFGXT3zCv4bpTyGY0+7HO
    ve9cGpTZMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgTVzl6Grr
    dxspcPSDUXccn4Hx6hxUSQROyrTxUobjzFICIEtKS1c77+JOcHvB7ou1B6RV2qIY
    sYapspf6fZEOGJsS
    -----END CERTIFICATE-----
  EOT
}
variable "key" {
  default = <<-EOT
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgI5tHfQCcyCOgs/T4
    +8YnAKi/YuIcopC5aqgzh9BUnFGhRANCAAQQ7q2ZnSrw9jMoe/mDHrXxyCsp3mvM
    FoEdoJqkhFpLQ0Yva34AvCEo9nz0fTllusl4rYdsgK5R+m0p8fipK/c0
    -----END PRIVATE KEY-----
  EOT
}
