# want 4: CRI plugin disabled
containerd {
  version = "2.3.4"
  config  = <<-EOT
    disabled_plugins = ["io.containerd.grpc.v1.cri"]
  EOT
}
