# want 8: sha256 with source = "package"
# want 11: Invalid version
# want 13: Missing version
# want 17: Invalid URL
containerd {
  source  = "package"
  version = "1.6.20~ds1-1"
  sha256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
runc {
  version = "v1.4.3"
}
kata {
}
crictl {
  version = "1.34.0"
  url     = "ftp://downloads.internal/crictl.tar.gz"
  sha256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
