# HCL's single-line block form holds one attribute only.
# want 4: Invalid single-argument block definition
containerd { version = "2.3.4" }
runc { version = "1.4.3" source = "release" }
