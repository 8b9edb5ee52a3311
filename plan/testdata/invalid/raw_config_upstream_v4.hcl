# want 12: ignores metrics.address; set it under [plugins.'io.containerd.server.v1.metrics']
# want 13: ignores debug; set it under [plugins.'io.containerd.server.v1.debug']
# want 15: reads containerd.runtimes.runc.options from [plugins.'io.containerd.cri.v1.runtime']
# want 10: disables io.containerd.transfer.v1.local, without which the CRI plugin cannot run pods
# want 17: refuses registry.mirrors while registry.config_path is set
# want 19: runtime "crun" is a runc handler whose options.SystemdCgroup is false, while node.cgroup_driver = "systemd" needs true
containerd {
  version = "2.3.4"
  config  = <<-EOT
    disabled_plugins = ["io.containerd.transfer.v1.local"]
    [metrics]
      address = "127.0.0.1:1338"
    [debug]
      level = "debug"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
    [plugins.'io.containerd.cri.v1.images'.registry.mirrors."docker.io"]
      endpoint = ["https://mirror.internal"]
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.crun.options]
      BinaryName = "/usr/bin/crun"
    [plugins.'io.containerd.cri.v1.images'.registry.configs."r.internal".auth]
      username = "u"
  EOT
}
runc { version = "1.4.3" }
