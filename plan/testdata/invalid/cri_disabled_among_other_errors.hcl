# Other errors do not hide the CRI plugin disabled in the raw config.
# want 7: Invalid sandbox image
# want 9: CRI plugin disabled
# want 14: No default runtime
containerd {
  version       = "2.3.4"
  sandbox_image = "pause 3.10"
  config        = <<-EOT
    disabled_plugins = ["cri"]
  EOT
}
runc { version = "1.4.3" }
kata { version = "3.32.0" }
runtime "kata-qemu" { type = "kata" }
