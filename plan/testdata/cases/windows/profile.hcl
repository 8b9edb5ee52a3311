node {
  os = "windows"
}
containerd {
  version = "2.3.4"
  sha256  = "1111111111111111111111111111111111111111111111111111111111111111"
  url     = "https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-windows-amd64.tar.gz"
}
kubelet {
  config = { maxPods = 64 }
}
