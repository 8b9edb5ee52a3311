# want 6: Unsupported OS
# want 7: Invalid kernel module name
# want 8: Invalid sysctl key
# want 8: Invalid sysctl value
node {
  os             = "darwin"
  kernel_modules = ["overlay", "br netfilter"]
  sysctl         = { "net.ipv4.ip_forward" = "1\n2", "kernel" = "1" }
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
