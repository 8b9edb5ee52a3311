node {
  cgroup_driver  = "cgroupfs"
  kernel_modules = ["overlay"]
  sysctl         = { "net.ipv4.ip_forward" = "1" }
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  config = { maxPods = 50 }
}
