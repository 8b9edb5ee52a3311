# A number too big for an integer is refused as such, not clamped.
# want 5: Invalid number
containerd {
  version        = "2.3.4"
  config_version = 1e400
}
runc { version = "1.4.3" }
