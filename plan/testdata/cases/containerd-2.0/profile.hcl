containerd {
  version = "2.0.7"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000007"
}
runc { version = "1.4.3" }
kata { version = "3.32.0" }
cni {
  version = "1.9.1"
  plugins = ["loopback", "bridge"]
}
runtime "runc" { default = true }
runtime "kata-qemu" { type = "kata" }
