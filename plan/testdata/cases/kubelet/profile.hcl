variable "bootstrap_token" {
  default   = "abcdef.0123456789abcdef"
  sensitive = true
}
containerd {
  version = "2.3.4"
  socket  = "/run/containerd/cri.sock"
}
runc { version = "1.4.3" }
cni { version = "1.9.1" }
crictl { version = "1.36.0" }
kubelet {
  version = "1.34.11"
  start   = true
  config = {
    clusterDNS    = ["10.96.0.10"]
    clusterDomain = "cluster.local"
    maxPods       = 110
    evictionHard  = { "memory.available" = "200Mi" }
    failSwapOn    = false
  }
  flags = ["--node-labels=role=worker", "--hostname-override=${var.bootstrap_token}"]
}
kubeadm { version = "1.34.11" } # installed to /usr/local/bin, pinned like the kubelet
kubectl { version = "1.34.11" }
