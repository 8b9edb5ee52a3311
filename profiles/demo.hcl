# The demo and end-to-end node: every artifact comes from the test bed's
# mirror (tests/testbed/build-mirror.sh), mounted at /srv/mirror, and its
# checksums from the mirror's variables file:
#   nodeup apply profiles/demo.hcl --var-file /srv/mirror/vars-containerd-2.3.4.hcl

variable "mirror_url" { default = "file:///srv/mirror" }
variable "containerd_version" {}
variable "containerd_sha256" {}
variable "runc_version" {}
variable "runc_sha256" {}
variable "cni_version" {}
variable "cni_sha256" {}
variable "crictl_version" {}
variable "crictl_sha256" {}
variable "kata_version" {}
variable "kata_sha256" {}

mirror {
  urls     = [var.mirror_url]
  upstream = false
}

node {
  cgroup_driver = "systemd"
}

containerd {
  version = var.containerd_version
  sha256  = var.containerd_sha256
}

runc {
  version = var.runc_version
  sha256  = var.runc_sha256
}

cni {
  version = var.cni_version
  sha256  = var.cni_sha256
  plugins = ["loopback", "bridge", "host-local", "portmap"]
}

crictl {
  version = var.crictl_version
  sha256  = var.crictl_sha256
}

kata {
  version = var.kata_version
  sha256  = var.kata_sha256
}

runtime "runc" {
  type    = "runc"
  default = true
}

runtime "kata-qemu" {
  type       = "kata"
  hypervisor = "qemu"
  overhead   = { cpu = "250m", memory = "160Mi" }
}

verify {
  timeout  = "60s"
  handlers = ["runc", "kata-qemu"]
}
