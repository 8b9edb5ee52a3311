# The first-boot node (TestFirstBootOnVM): containerd, runc, the CNI plugins with a bridge
# network, crictl and the sandbox image, all from the mirror on the test's input disk (no
# network); no kubelet, and a verification without a pod: what a baked image's first boot
# has to bring up before it is a node, containerd answering over CRI with its handlers and
# network ready.
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
variable "pause_sha256" {}

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
}

runc {
  version = var.runc_version
  sha256  = var.runc_sha256
}

runtime "runc" {
  type    = "runc"
  default = true
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
