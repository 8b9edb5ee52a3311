# want 8: has no flag --bootstrap-token; it is a flag of kubeadm join
# want 9: has no flag --no-such-flag
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

kubelet {
  flags = [
    "--bootstrap-token=abcdef.0123456789abcdef",
    "--no-such-flag=1",
    "--node-labels=role=worker",
    "--v=2",
  ]
}
