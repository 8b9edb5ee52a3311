# Control characters where a value is written into files and printed.
# want 10: sysctl value of "net.ipv4.ip_forward" holds the control character U+001B at byte 1
# want 10: "vm.a\a" is not a sysctl key
# want 14: containerd.socket holds the control character U+0000
# want 15: containerd.sandbox_image holds the control character U+009B
# want 21: cni.bin_dir holds the control character U+0009
# want 28: kubelet.flags holds the control character U+001B
# want 30: kubelet.kubeconfig holds the control character U+001B at byte 28
node {
  sysctl = { "net.ipv4.ip_forward" = "1\u001b[2J", "vm.a\u0007" = "1" }
}
containerd {
  version       = "2.3.4"
  socket        = "/run/containerd/c.sock\u0000"
  sandbox_image = "registry.k8s.io/pause:3.10\u009b"
}
runc {
  version = "1.4.3"
}
cni {
  bin_dir = "/opt/cni/\tbin"
  version = "1.9.1"
}
runtime "runc" {
  default = true
}
kubelet {
  flags      = ["--v=2\u001b]0;title\u0007"]
  mode       = "kubeconfig"
  kubeconfig = "/etc/kubernetes/kubelet.conf\u001b[2J"
  client_ca_file = "/etc/kubernetes/pki/ca.crt"
}
