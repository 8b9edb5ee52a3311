containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  reserved = {
    system = { cpu = "lots", memory = "256Mi", gpu = "1" }
    kube   = { memory = "-1Gi" }
    pods   = { cpu = "1" }
  }
  config = {
    systemReserved       = { cpu = "200m" }
    kubeReservedCgroup   = "/kubelet.slice"
    evictionHard         = { "memory.available" = "100Mi" }
  }
  flags = ["--kube-reserved=cpu=1"]
}
# kubelet.reserved takes cpu, memory and ephemeral_storage quantities for
# system and kube; the keys it owns are refused in kubelet.config and flags.
# want 5: "lots" is not a quantity
# want 5: has "gpu"
# want 6: kubelet.reserved.kube.memory = "-1Gi"
# want 7: Unknown kubelet.reserved setting
# want 10: kubelet.reserved.system
# want 11: kubeReservedCgroup
# want 14: --kube-reserved
