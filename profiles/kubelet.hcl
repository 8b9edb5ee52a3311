# A worker node with the kubelet installed and configured, ready for
# `kubeadm join` (which starts the kubelet). The kubelet's cgroupDriver and
# containerRuntimeEndpoint come from the node and containerd settings.

variable "kubelet_version" { default = "1.34.11" }

variable "node_labels" {
  type    = list(string)
  default = ["role=worker"]
}

node {
  cgroup_driver = "systemd"
}

containerd {
  version = "2.3.4"
}

runc { version = "1.4.3" }
cni { version = "1.9.1" }
crictl { version = "1.36.0" }

kubelet {
  version = var.kubelet_version
  start   = false
  config = {
    clusterDNS    = ["10.96.0.10"]
    clusterDomain = "cluster.local"
    maxPods       = 110
    failSwapOn    = false
  }
  flags = ["--node-labels=${join(",", var.node_labels)}"]
}
