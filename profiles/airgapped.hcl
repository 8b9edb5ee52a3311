# An air-gapped node: every artifact comes from the internal mirror (a
# `nodeup bundle` directory served over HTTP, or copied to disk); upstream is
# never contacted. Images come through a registry mirror too.

variable "mirror_url" {
  description = "Base URL of the artifact mirror"
  default     = "http://mirror.internal/nodeup"
}

mirror {
  urls     = [var.mirror_url, "file:///srv/nodeup"]
  upstream = false
}

containerd {
  version       = "2.3.4"
  sandbox_image = "registry.internal:5000/pause:3.10"

  registry "docker.io" {
    mirrors = ["https://registry.internal:5000"]
  }
  registry "registry.k8s.io" {
    mirrors = ["https://registry.internal:5000"]
  }
}

runc { version = "1.4.3" }
cni { version = "1.9.1" }
crictl { version = "1.36.0" }
