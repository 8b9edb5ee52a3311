node {
  cgroup_driver  = "cgroupfs"
  kernel_modules = ["overlay", "nf_conntrack"]                    # added to the defaults
  sysctl         = { "fs.inotify.max_user_watches" = "524288",    # added to the defaults
                     "net.ipv4.ip_forward" = "1" }
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  config = { maxPods = 50 }
}
