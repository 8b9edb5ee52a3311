# Bake a node image with nodeup: install and enable everything at build time,
# start and verify at first boot (nodeup-boot.service).
# Fill in the source block for your builder (amazon-ebs, googlecompute, qemu...).

variable "nodeup_binary" {
  type    = string
  default = "bin/nodeup"
}

build {
  sources = ["source.amazon-ebs.node"]

  provisioner "file" {
    source      = var.nodeup_binary
    destination = "/tmp/nodeup"
  }
  provisioner "file" {
    source      = "profiles/default.hcl"
    destination = "/tmp/profile.hcl"
  }
  provisioner "file" {
    source      = "packaging/nodeup-boot.service"
    destination = "/tmp/nodeup-boot.service"
  }
  provisioner "shell" {
    inline = [
      "sudo install -m 0755 /tmp/nodeup /usr/local/bin/nodeup",
      "sudo install -D -m 0600 /tmp/profile.hcl /etc/nodeup/profile.d/node.hcl",
      "sudo install -m 0644 /tmp/nodeup-boot.service /etc/systemd/system/nodeup-boot.service",
      "sudo systemctl enable nodeup-boot.service",
      "sudo nodeup apply /etc/nodeup/profile.d --phase bake",
    ]
  }
}
