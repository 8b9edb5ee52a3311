variable "token" {
  default   = "a-secret-token"
  sensitive = true
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kata { version = "3.32.0" }
cni { version = "1.9.1" }
file "etc/motd" { content = "hello\n" }
file "/etc//motd" { content = "hello\n" }
file "/etc/a" {
  content = "x"
  mode    = "0999"
}
file "/etc/token" {
  content = "${var.token}\n"
  mode    = "0644"
}
file "/opt/kata/share/x.toml" { content = "x" }
file "/etc/containerd/config.toml" { content = "x" }
file "/etc/containerd" { content = "x" }
file "/opt/cni/bin/extra" { content = "x" }
file "/var/lib/nodeup/state.json" { content = "{}" }
file "/etc/b" {
  content = "x"
  owner   = "root"
}
file "/etc/c" {
  content = "x"
  restart = ["containerd"]
}
file "/etc/d" { mode = "0644" }
file "/etc/a/b" { content = "x" }
file "/etc/systemd/system/containerd.service.d/20-site.conf" { content = "[Service\nLimitNOFILE=1\n" }
file "/etc/e" { content = "x" }
file "/etc/e" { content = "y" }
# A file block writes a file no other setting owns, at a clean absolute
# path, with an octal mode (0600 or tighter for a sensitive value).
# want 9: Relative path
# want 10: Path not clean
# want 13: Invalid file mode
# want 17: must be 0600 or tighter
# want 19: inside the kata block's /opt/kata
# want 20: a file nodeup renders
# want 20: Overlapping file blocks
# want 21: holds a file nodeup renders (/etc/containerd/config.toml)
# want 22: is in cni.bin_dir
# want 23: is in nodeup's own directory
# want 26: An argument named "owner" is not expected here
# want 30: not a systemd unit name
# want 32: The argument "content" is required
# want 33: one is inside the other
# want 34: Invalid unit file
# want 36: Duplicate file block
