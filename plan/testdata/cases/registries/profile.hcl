variable "registry_auth" {
  default   = "bm9kZTpzZWNyZXQ="
  sensitive = true
}
mirror {
  urls     = ["http://10.0.0.5/nodeup", "file:///srv/nodeup"]
  upstream = false
}
containerd {
  version       = "2.3.4"
  sandbox_image = "registry.internal:5000/pause:3.10"
  registry "docker.io" {
    mirrors = ["https://registry.internal:5000", "https://backup.internal"]
    host "https://backup.internal" {
      capabilities = ["pull"]
    }
    host "https://extra.internal/cache" {
      override_path = true
    }
  }
  registry "registry.internal:5000" {
    skip_verify = true
  }
  registry "secure.internal:5000" {
    server       = "https://secure.internal:5000"
    ca           = file("ca.pem")
    client_cert  = file("client.pem")
    client_key   = file("client.key")
    headers      = { Authorization = "Basic ${var.registry_auth}", X-Meta = ["a", "b"] }
    capabilities = ["pull", "resolve", "push"]
    host "https://mirror.internal" {
      capabilities = ["pull"]
      ca           = file("ca.pem")
      headers      = { X-Mirror = "yes" }
    }
    host "http://plain.internal:5000" {
      skip_verify = true
    }
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
