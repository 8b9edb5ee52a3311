# want 3: Missing newline after argument
containerd {
  version = "2.3.4" socket = "/run/x.sock"
}
runc { version = "1.4.3" }
