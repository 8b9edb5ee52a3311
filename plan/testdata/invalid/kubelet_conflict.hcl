# want 9: Conflicting kubelet setting
node {
  cgroup_driver = "systemd"
}
containerd { version = "2.3.4" }

kubelet {
  config = {
    cgroupDriver = "cgroupfs"
  }
}
runc { version = "1.4.3" }
