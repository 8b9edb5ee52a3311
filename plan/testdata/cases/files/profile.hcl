variable "site_token" {
  default   = "s3cret-site-token"
  sensitive = true
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni { version = "1.9.1" }
kubelet { version = "1.36.4" }

# A drop-in of a unit nodeup manages: one daemon-reload, one restart.
file "/etc/systemd/system/containerd.service.d/20-site.conf" {
  content = "[Service]\nLimitNOFILE=1048576\n"
  mode    = "0644"
  restart = ["containerd.service"]
}

# A configuration file of a unit nodeup does not manage.
file "/etc/chrony/chrony.conf" {
  content = <<-EOT
    pool pool.ntp.org iburst
    makestep 1.0 3
  EOT
  restart = ["chronyd.service", "kubelet.service"]
}

# A drop-in of another unit: systemd re-reads it, nothing restarts.
file "/etc/systemd/system/systemd-journald.service.d/10-site.conf" {
  content = "[Journal]\nSystemMaxUse=1G\n"
}

# Content holding a sensitive value is 0600 or tighter.
file "/etc/site/token" {
  content = "token=${var.site_token}\n"
  mode    = "0400"
}
