# A misspelt block is reported without hiding the errors elsewhere, and
# without a second "Missing containerd block".
# want 5: Unsupported block type
# want 9: Invalid cgroup driver
contianerd {
  version = "2.3.4"
}
node {
  cgroup_driver = "both"
}
runc {
  version = "1.4.3"
  sha256  = "abc"
}
# want 13: Malformed sha256
