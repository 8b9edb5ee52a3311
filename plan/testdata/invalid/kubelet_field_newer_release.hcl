# want 10: kubelet 1.34.11 has no KubeletConfiguration field "memoryReservationPolicy": it was added in 1.36; remove it or use kubelet 1.36 or later
# want 11: kubelet 1.34.11 has no KubeletConfiguration field "tlsCurvePreferences": it was added in 1.36
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  version = "1.34.11"
  config = {
    maxPods          = 110
    userNamespaces   = { idsPerPod = 65536 }
    memoryReservationPolicy = "None"
    tlsCurvePreferences = [23]
  }
}
