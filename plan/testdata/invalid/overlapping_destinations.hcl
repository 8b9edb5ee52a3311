# The CNI plugins inside the tree kata replaces on update, or the CNI
# configuration as that tree, would be deleted by every kata update.
# want 9: Overlapping destinations
# want 10: Overlapping destinations
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kata { version = "3.32.0" }
cni {
  bin_dir  = "/opt/kata/bin"
  conf_dir = "/opt/kata"
  version  = "1.9.1"
}
runtime "runc" { default = true }
runtime "kata-qemu" { type = "kata" }
