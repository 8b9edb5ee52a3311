# The default node plus kata-containers: a kata-qemu handler and its
# RuntimeClass (with pod overhead) next to runc. Pods opt in with
# runtimeClassName: kata-qemu. Running kata pods needs /dev/kvm.

node {
  cgroup_driver = "systemd"
}

containerd {
  version = "2.3.4"
}

runc { version = "1.4.3" }
kata { version = "3.32.0" }

cni {
  version = "1.9.1"
  plugins = ["loopback", "bridge", "host-local", "portmap"]
}

crictl { version = "1.36.0" }

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
