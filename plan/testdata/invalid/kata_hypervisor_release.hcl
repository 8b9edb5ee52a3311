# kata 3.30 renamed runtime-rs's Cloud Hypervisor configuration.
# want 9: kata 3.32.0 ships no configuration-cloud-hypervisor.toml. Use "clh-runtime-rs" or "clh-azure-runtime-rs".
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kata { version = "3.32.0" }
runtime "runc" { default = true }
runtime "kata-clh" {
  type       = "kata"
  hypervisor = "cloud-hypervisor"
}
