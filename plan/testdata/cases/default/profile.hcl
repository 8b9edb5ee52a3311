# The everyday node: containerd, runc, the CNI plugins and crictl from their
# upstream releases, pinned by nodeup's built-in checksums, with the systemd
# cgroup driver for both containerd and the kubelet.

node {
  cgroup_driver = "systemd"
}

containerd {
  version = "2.3.4"
}

runc { version = "1.4.3" }

cni {
  version = "1.9.1"
}

crictl { version = "1.36.0" }

runtime "runc" {
  type    = "runc"
  default = true
}
