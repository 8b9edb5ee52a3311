# want 11: Invalid image name
# want 14: Missing sha256
# want 14: Nowhere to fetch the image
# want 17: Malformed sha256
# want 21: Duplicate image
# want 23: Invalid URL
# want 26: Invalid image name
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
# a name whose mirror path would leave the mirror
image "registry.example/%2e%2e/%2e%2e/x:1" {
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}
