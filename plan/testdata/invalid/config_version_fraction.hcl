# want 4: Invalid number
containerd {
  version        = "2.3.4"
  config_version = 3.5
}
runc { version = "1.4.3" }
