# The kubelet's containerRuntimeEndpoint must be containerd.socket.
# want 10: Conflicting kubelet setting
containerd {
  version = "2.3.4"
  socket  = "/run/k8s/containerd.sock"
}
kubelet {
  config = {
    clusterDomain            = "cluster.local"
    containerRuntimeEndpoint = "unix:///run/containerd/containerd.sock"
  }
}
runc { version = "1.4.3" }
