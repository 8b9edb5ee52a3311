# want 6: Conflicting kubelet setting
containerd { version = "2.3.4" }

kubelet {
  config = {
    containerRuntimeEndpoint = "unix:///run/crio/crio.sock"
  }
}
runc { version = "1.4.3" }
