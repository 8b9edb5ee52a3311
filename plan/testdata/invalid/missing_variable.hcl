# want 2: No value for required variable
variable "containerd_sha256" {}

containerd {
  version = "2.3.99"
  sha256  = var.containerd_sha256
}
runc { version = "1.4.3" }
