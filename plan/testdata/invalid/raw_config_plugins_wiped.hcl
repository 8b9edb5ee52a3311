# Replacing the whole plugin table would drop every handler nodeup renders.
# want 6: replaces the table that holds
containerd {
  version = "2.3.4"
  config  = <<-EOT
    plugins = []
  EOT
}
runc { version = "1.4.3" }
