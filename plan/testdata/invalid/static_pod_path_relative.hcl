# A relative staticPodPath would be relative to wherever the kubelet runs.
# want 6: Relative path
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  config = { staticPodPath = "manifests" }
}
