containerd {
  version = "1.7.34"
  registry "docker.io" {
    mirrors = ["https://mirror.internal:5000"]
  }
}
runc { version = "1.4.3" }
kata { version = "3.32.0" }
cni {
  version = "1.9.1"
  plugins = ["loopback", "bridge", "host-local"]
}
runtime "runc" { default = true }
runtime "kata-qemu" {
  type     = "kata"
  overhead = { cpu = "250m", memory = "160Mi" }
}
