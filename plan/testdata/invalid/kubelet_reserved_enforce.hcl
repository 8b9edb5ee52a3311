containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  reserved = { enforce = true }
}
# Enforcing needs a reservation to enforce.
# want 4: Nothing to enforce
