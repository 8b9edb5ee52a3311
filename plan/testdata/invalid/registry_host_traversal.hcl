# A registry host names a directory under /etc/containerd/certs.d: ".."
# would put hosts.toml in /etc/containerd itself.
# want 8: Invalid registry host
# want 9: Invalid registry host
# want 10: Invalid registry host
containerd {
  version = "2.3.4"
  registry ".." {}
  registry "." {}
  registry "mirror..internal/../x" {}
  registry "_default" {}
  registry "[fd00::1]:5000" {}
  registry "registry.internal:5000" {}
}
runc { version = "1.4.3" }
