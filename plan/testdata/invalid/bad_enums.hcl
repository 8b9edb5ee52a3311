# want 5: Invalid cgroup driver
# want 6: Unsupported architecture
# want 10: Invalid source
node {
  cgroup_driver = "systemd-ish"
  arch          = "riscv64"
}
containerd {
  version = "2.3.4"
  source  = "docker"
}
runc { source = "package" }
