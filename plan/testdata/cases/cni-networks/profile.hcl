containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni {
  version  = "1.9.1"
  plugins  = ["loopback", "bridge", "host-local", "portmap"]
  networks = {
    "10-bridge.conflist" = file("bridge.conflist")
    "99-loopback.conflist" = <<-EOT
      {"cniVersion": "1.0.0", "name": "lo", "plugins": [{"type": "loopback"}]}
    EOT
  }
}
