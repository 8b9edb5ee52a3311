# A Windows node has no cgroups and runs runhcs, not runc or kata.
# want 6: cgroup driver on Windows
# want 10: Linux runtime on a Windows node
node {
  os            = "windows"
  cgroup_driver = "systemd"
}
containerd { version = "2.3.4" }
runtime "runc" {
  type    = "runc"
  default = true
}
