# Every error of a profile is reported in one run.
# want 7: Invalid cgroup driver
# want 10: Version not pinned
# want 13: Malformed sha256
# want 17: kata runtime without kata
node {
  cgroup_driver = "both"
}
containerd {
  version = "9.9.9"
}
runc {
  sha256  = "not-a-hash"
  version = "1.4.3"
}
runtime "runc" { default = true }
runtime "kata" {
  type = "kata"
}
