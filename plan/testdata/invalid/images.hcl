# want 10: Invalid image name
# want 13: Missing sha256
# want 13: Nowhere to fetch the image
# want 16: Malformed sha256
# want 20: Duplicate image
# want 22: Invalid URL
containerd { version = "2.3.4" }
runc { version = "1.4.3" }

image "busybox@sha256:0123" {
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}
image "registry.k8s.io/pause:3.10" {
}
image "busybox:1.36" {
  sha256 = "ABC"
  url    = "https://images.example/busybox.tar"
}
# docker.io/library/busybox:1.36 again
image "docker.io/library/busybox:1.36" {
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  url    = "ftp://images.example/busybox.tar"
}
