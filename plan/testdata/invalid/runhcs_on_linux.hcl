# want 5: Windows runtime on a Linux node
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
runtime "runc" { default = true }
runtime "wcow" { type = "runhcs" }
