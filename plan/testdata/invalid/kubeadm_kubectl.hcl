# want 5: The kubeadm block needs a version
# want 6: kubectl 1.33.0 (amd64) is not in nodeup's pin table
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubeadm {}
kubectl { version = "1.33.0" }
