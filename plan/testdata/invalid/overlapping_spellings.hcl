# The same place spelled another way overlaps all the same, and a
# directory that receives every executable of a release may not hold
# another component's file: a CNI archive member named containerd would
# replace it.
# want 13: cni.bin_dir (/usr/local/bin) would hold files named like the containerd block's /usr/local/bin/containerd
# want 13: the containerd block's /usr/local/bin/containerd-shim-runc-v2
# want 13: the containerd block's /usr/local/bin/ctr
# want 14: cni.conf_dir (/opt/kata/cni) is inside the tree
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kata { version = "3.32.0" }
cni {
  bin_dir  = "/usr/local//bin/../bin"
  conf_dir = "/opt/x/../kata//cni"
  version  = "1.9.1"
}
runtime "runc" { default = true }
runtime "kata-qemu" { type = "kata" }
