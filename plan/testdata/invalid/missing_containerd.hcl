# want 1: Missing containerd block
runc { version = "1.4.3" }
