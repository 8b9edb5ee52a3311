# want 5: CRI plugin disabled
containerd {
  version = "2.3.4"
  config  = <<-EOT
    disabled_plugins = ["io.containerd.grpc.v1.cri"]
  EOT
}
runc { version = "1.4.3" }
