# The kubelet's cgroupDriver must follow node.cgroup_driver, also when that is cgroupfs.
# want 9: Conflicting kubelet setting
node {
  cgroup_driver = "cgroupfs"
}
containerd { version = "2.3.4" }
kubelet {
  config = {
    cgroupDriver = "systemd"
  }
}
runc { version = "1.4.3" }
