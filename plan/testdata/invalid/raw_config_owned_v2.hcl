# Schema 2 (containerd 1.x): the socket, the sandbox image and the runc
# handler's cgroup setting, written inline, are the typed settings' too.
# want 11: containerd.config overrides containerd.socket
# want 13: containerd.config overrides containerd.sandbox_image
# want 14: containerd.config overrides node.cgroup_driver
node { cgroup_driver = "cgroupfs" }
containerd {
  version = "1.7.34"
  config  = <<-EOT
    [grpc]
      address = "/run/other.sock"
    [plugins."io.containerd.grpc.v1.cri"]
      sandbox_image = "registry.k8s.io/pause:3.9"
      containerd = { runtimes = { runc = { options = { SystemdCgroup = true } } } }
  EOT
}
runc { version = "1.4.3" }
