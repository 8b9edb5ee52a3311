# Every kubelet config error at once: an unknown field does not hide a
# conflict, and each wrongly typed field is reported.
# want 10: Unknown KubeletConfiguration field
# want 11: Conflicting kubelet setting
# want 12: Invalid kubelet config value
# want 13: Invalid kubelet config value
containerd { version = "2.3.4" }
kubelet {
  config = {
    maxPodz       = 10
    cgroupDriver  = "cgroupfs"
    maxPods       = "many"
    clusterDomain = 5
  }
}
runc { version = "1.4.3" }
