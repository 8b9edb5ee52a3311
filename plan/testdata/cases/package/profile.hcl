containerd {
  source  = "package"
  version = "1.6.20~ds1-1+b1"
}
runc { source = "package" }
cni {
  version = "1.9.1"
  plugins = ["loopback", "bridge", "host-local"]
}
