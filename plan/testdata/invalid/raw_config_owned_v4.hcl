# containerd.config (schema 4) may not override what typed settings own.
# want 13: containerd.config overrides node.cgroup_driver
# want 15: containerd.config overrides containerd.socket
# want 17: containerd.config overrides cni.bin_dir
# want 19: containerd.config overrides runtime "kata-qemu" type
node { cgroup_driver = "systemd" }
containerd {
  version = "2.3.4"
  config  = <<-EOT
    [plugins.'io.containerd.cri.v1.runtime']
      enable_unprivileged_ports = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      SystemdCgroup = false
    [plugins.'io.containerd.server.v1.grpc']
      address = "/run/elsewhere.sock"
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dir = "/usr/lib/cni"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata-qemu]
      runtime_type = "io.containerd.runc.v2"
  EOT
}
runc { version = "1.4.3" }
cni { version = "1.9.1" }
kata { version = "3.32.0" }
runtime "runc" { default = true }
runtime "kata-qemu" { type = "kata" }
