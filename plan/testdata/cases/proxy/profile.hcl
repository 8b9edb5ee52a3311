variable "proxy_password" {
  default   = "pr0xy-pa$$word"
  sensitive = true
}
node {
  proxy = {
    http     = "http://node:${var.proxy_password}@proxy.internal:3128"
    https    = "http://proxy.internal:3128"
    no_proxy = ["10.0.0.0/8", ".internal"]
  }
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni {
  version  = "1.9.1"
  networks = { "10-bridge.conflist" = file("bridge.conflist") }
}
kubelet {
  version = "1.36.4"
  config  = { clusterDNS = ["10.96.0.10"], clusterDomain = "cluster.local" }
  flags   = ["--node-ip=192.168.1.10"]
}
