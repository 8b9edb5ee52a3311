mirror {
  urls     = ["http://10.0.0.5/nodeup", "file:///srv/nodeup"]
  upstream = false
}
containerd {
  version       = "2.3.4"
  sandbox_image = "registry.internal:5000/pause:3.10"
  registry "docker.io" {
    mirrors = ["https://registry.internal:5000", "https://backup.internal"]
  }
  registry "registry.internal:5000" {
    skip_verify = true
  }
  registry "_default" {
    mirrors = ["https://registry.internal:5000"]
  }
  config = <<-EOT
    [plugins.'io.containerd.cri.v1.runtime']
      enable_unprivileged_ports = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      NoNewKeyring = true
  EOT
}
runc { version = "1.4.3" }
cni { version = "1.9.1" }
crictl { version = "1.36.0" }
