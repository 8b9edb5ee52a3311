# Names an apply could not create are refused at validate, where they are
# written: a CNI network file name over 255 bytes, a directory name over
# 255 bytes.
# want 11: Node path too long
# want 14: Node path too long
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni {
  version = "1.9.1"
  networks = {
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn.conflist" = "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"plugins\": [{\"type\": \"bridge\"}]}"
  }
}
kubelet { config = { staticPodPath = "/etc/${join("", [for i in range(300) : "m"])}" } }
