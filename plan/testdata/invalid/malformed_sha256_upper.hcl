# A sha256 is 64 lowercase hex digits: upper case, or one digit short, is refused.
# want 6: Malformed sha256
# want 10: Malformed sha256
crictl {
  version = "1.34.0"
  sha256  = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
}
kata {
  version = "3.32.0"
  sha256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"
}
containerd { version = "2.3.4" }
runtime "runc" { default = true }
runtime "kata" {
  type = "kata"
}
runc { version = "1.4.3" }
