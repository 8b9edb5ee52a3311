# want 4: config_version too new
containerd {
  version        = "1.7.34"
  config_version = 4
}
runc { version = "1.4.3" }
