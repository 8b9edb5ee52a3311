# A node that runs static pods with no API server, and needs no registry:
# the sandbox and test images come from the mirror.
mirror {
  urls     = ["file:///srv/nodeup"]
  upstream = false
}
containerd {
  version       = "2.3.4"
  sandbox_image = "registry.k8s.io/pause:3.10"
}
runc { version = "1.4.3" }
cni {
  version  = "1.9.1"
  plugins  = ["loopback", "bridge", "host-local", "portmap"]
  networks = { "10-bridge.conflist" = file("bridge.conflist") }
}
kubelet {
  version = "1.34.11"
  mode    = "standalone"
  start   = true
  config = {
    staticPodPath  = "/etc/kubernetes/manifests"
    authentication = { anonymous = { enabled = true }, webhook = { enabled = false } }
    authorization  = { mode = "AlwaysAllow" }
    failSwapOn     = false
  }
}
image "registry.k8s.io/pause:3.10" {
  sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
}
image "busybox:1.36" {
  sha256 = "2222222222222222222222222222222222222222222222222222222222222222"
  url    = "https://images.example/busybox-1.36.tar"
}
verify {
  pod       = true
  pod_image = "busybox:1.36"
}
