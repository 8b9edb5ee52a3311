# Every release artifact, not only containerd, needs a pinned version or a sha256.
# want 4: Version not pinned
containerd { version = "2.3.4" }
runc { version = "1.0.0-rc1" }
