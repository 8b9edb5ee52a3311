# A runc handler needs a runc: a runc block, or a packaged containerd's.
# want 5: runc runtime without runc
# want 7: runc runtime without runc
containerd { version = "2.3.4" }
runtime "runc" { default = true }
kata { version = "3.32.0" }
runtime "runc-debug" {}
runtime "kata-qemu" { type = "kata" }
