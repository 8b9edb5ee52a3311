# want 4: Incorrect attribute value type
containerd { version = "2.3.4" }
node {
  kernel_modules = "overlay"
}
runc { version = "1.4.3" }
