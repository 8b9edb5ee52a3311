containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni { version = "1.9.1" }
kubelet {
  version = "1.36.4"
  start   = true
  reserved = {
    system  = { cpu = "100m", memory = "256Mi", ephemeral_storage = "1Gi" }
    kube    = { cpu = "100m", memory = "256Mi" }
    enforce = true
  }
}
