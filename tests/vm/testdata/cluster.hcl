# The cluster test's node (TestClusterOnVM): a kubeadm node. containerd, runc and crun (a
# runtime not every node has, so its RuntimeClass selects runtime.nodeup.io/crun=true and the
# kubelet registers the node with that label), the CNI plugins with a bridge network,
# crictl, the kubelet in kubeadm mode, kubeadm and kubectl, and every image `kubeadm init`
# needs preloaded from the mirror on the test's input disk (no network): the control plane's
# images under the test's image repository, and the test pod's. The cgroup driver is a
# variable so the same profile runs under both drivers.
variable "mirror_url" { default = "file:///mnt/in/mirror" }
variable "cgroup_driver" { default = "systemd" }
# Image names are literal (block labels): the test's image repository is nodeup.test/k8s and
# the Kubernetes version 1.37.2, which kubeadm is told too.
variable "containerd_version" {}
variable "containerd_sha256" {}
variable "runc_version" {}
variable "runc_sha256" {}
variable "crun_version" {}
variable "crun_sha256" {}
variable "cni_version" {}
variable "cni_sha256" {}
variable "crictl_version" {}
variable "crictl_sha256" {}
variable "kubelet_version" {}
variable "kubeadm_version" {}
variable "kubectl_version" {}
variable "kubelet_sha256" {}
variable "kubeadm_sha256" {}
variable "kubectl_sha256" {}
variable "pause_sha256" {}
variable "etcd_sha256" {}
variable "kube_apiserver_sha256" {}
variable "kube_controller_manager_sha256" {}
variable "kube_scheduler_sha256" {}
variable "busybox_sha256" {}

mirror {
  urls     = [var.mirror_url]
  upstream = false
}

node {
  cgroup_driver = var.cgroup_driver
}

containerd {
  version       = var.containerd_version
  sha256        = var.containerd_sha256
  sandbox_image = "nodeup.test/k8s/pause:3.10.2"
}

runc {
  version = var.runc_version
  sha256  = var.runc_sha256
}

crun {
  version = var.crun_version
  sha256  = var.crun_sha256
}

runtime "runc" {
  type    = "runc"
  default = true
}

runtime "crun" { type = "crun" }

cni {
  version  = var.cni_version
  sha256   = var.cni_sha256
  plugins  = ["loopback", "bridge", "host-local", "portmap"]
  networks = { "10-bridge.conflist" = file("bridge.conflist") }
}

crictl {
  version = var.crictl_version
  sha256  = var.crictl_sha256
}

kubelet {
  version = var.kubelet_version
  sha256  = var.kubelet_sha256
  mode    = "kubeadm"
}

kubeadm {
  version = var.kubeadm_version
  sha256  = var.kubeadm_sha256
}

kubectl {
  version = var.kubectl_version
  sha256  = var.kubectl_sha256
}

image "nodeup.test/k8s/pause:3.10.2" {
  sha256 = var.pause_sha256
}

image "nodeup.test/k8s/etcd:3.7.0-0" {
  sha256 = var.etcd_sha256
}

image "nodeup.test/k8s/kube-apiserver:v1.37.2" {
  sha256 = var.kube_apiserver_sha256
}

image "nodeup.test/k8s/kube-controller-manager:v1.37.2" {
  sha256 = var.kube_controller_manager_sha256
}

image "nodeup.test/k8s/kube-scheduler:v1.37.2" {
  sha256 = var.kube_scheduler_sha256
}

image "nodeup.test/busybox:1" {
  sha256 = var.busybox_sha256
}
