# want 6: Invalid containerd config TOML
containerd {
  version = "2.3.4"
  config  = <<-EOT
    [plugins]
    oops = = 1
  EOT
}
runc { version = "1.4.3" }
