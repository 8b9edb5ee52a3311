# want 3: Duplicate containerd block
containerd { version = "2.3.4" }
containerd { version = "1.7.34" }
runc { version = "1.4.3" }
