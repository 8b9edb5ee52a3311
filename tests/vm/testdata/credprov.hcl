# The credential provider test's node (TestCredentialProviderOnVM), without its provider:
# containerd, runc, the CNI plugins with a bridge network, crictl and a standalone kubelet
# that runs static pods, from the mirror on the test's input disk (no network), and the
# test's registry, which asks for a username and password, over plain HTTP on the node
# itself. credprov-provider.hcl, beside it in the second apply, adds the provider that
# gives the kubelet those credentials.
variable "mirror_url" { default = "file:///mnt/in/mirror" }
variable "cgroup_driver" { default = "systemd" }
variable "containerd_version" {}
variable "containerd_sha256" {}
variable "runc_version" {}
variable "runc_sha256" {}
variable "cni_version" {}
variable "cni_sha256" {}
variable "crictl_version" {}
variable "crictl_sha256" {}
variable "kubelet_version" {}
variable "kubelet_sha256" {}
variable "pause_sha256" {}
variable "busybox_sha256" {} # the pushed image's archive, not preloaded
variable "credprovider_sha256" {}
variable "registry_user" {}
variable "registry_password" { sensitive = true }

mirror {
  urls     = [var.mirror_url]
  upstream = false
}

node {
  cgroup_driver = var.cgroup_driver
}

containerd {
  version       = var.containerd_version
  sha256        = var.containerd_sha256
  sandbox_image = "registry.k8s.io/pause:3.10"

  registry "registry.nodeup.test:5000" {
    server = "http://registry.nodeup.test:5000"
  }
}

runc {
  version = var.runc_version
  sha256  = var.runc_sha256
}

cni {
  version  = var.cni_version
  sha256   = var.cni_sha256
  plugins  = ["loopback", "bridge", "host-local", "portmap"]
  networks = { "10-bridge.conflist" = file("bridge.conflist") }
}

crictl {
  version = var.crictl_version
  sha256  = var.crictl_sha256
}

image "registry.k8s.io/pause:3.10" {
  sha256 = var.pause_sha256
}

verify {
  timeout = "180s"
}
