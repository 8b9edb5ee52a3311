containerd {
  version = "2.2.3"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000006"
}
runc { version = "1.4.3" }
kata { version = "3.32.0" }
cni {
  version = "1.9.1"
  plugins = ["loopback", "bridge"]
}
runtime "runc" { default = true }
runtime "kata-qemu" { type = "kata" }
runtime "kata-clh" {
  type       = "kata"
  hypervisor = "clh"
}
