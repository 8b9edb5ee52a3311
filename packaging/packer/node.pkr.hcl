# Bakes a node image with nodeup: `nodeup apply --phase bake` installs and
# enables everything and keeps the profile, with the values given here, in
# /etc/nodeup/profile.d; nodeup-boot.service starts and verifies the node at
# its first boot. The image keeps no download cache.
#
#   packer build -var ssh_host=10.0.0.7 -var profile=profiles/default.hcl packaging/packer/node.pkr.hcl
#
# The source is Packer's built-in null builder: it bakes the machine at
# ssh_host, which you then snapshot. For a cloud or VM image, put your
# builder's source block here (amazon-ebs, googlecompute, qemu...) and name
# it in the build's sources; the provisioners stay as they are. Paths are
# relative to this file, so packer runs from any directory.

variable "ssh_host" {
  type        = string
  default     = "127.0.0.1"
  description = "the machine to bake (null builder)"
}

variable "ssh_port" {
  type    = number
  default = 22
}

variable "ssh_username" {
  type    = string
  default = "debian"
}

variable "ssh_private_key_file" {
  type        = string
  default     = ""
  description = "the key to log in with; empty: the SSH agent's keys"
}

variable "arch" {
  type        = string
  default     = "amd64"
  description = "the image's architecture (amd64 or arm64): which nodeup to build and upload"
}

variable "nodeup_binary" {
  type        = string
  default     = ""
  description = "a nodeup binary for the image; empty: built from this repository (make binaries)"
}

variable "profile" {
  type        = string
  default     = ""
  description = "the profile to bake, a file or a directory; empty: profiles/default.hcl"
}

variable "var_file" {
  type        = string
  default     = ""
  description = "a variables file for the profile (NAME = VALUE); its values are kept in the image"
}

locals {
  repo    = "${path.root}/../.."
  stage   = "${path.root}/.stage"
  nodeup  = var.nodeup_binary != "" ? var.nodeup_binary : "${path.root}/../../bin/nodeup-linux-${var.arch}"
  profile = var.profile != "" ? var.profile : "${path.root}/../../profiles/default.hcl"
}

source "null" "node" {
  ssh_host             = var.ssh_host
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_agent_auth       = var.ssh_private_key_file == ""
}

build {
  sources = ["source.null.node"]

  # On the machine running packer: build nodeup if needed and stage what
  # goes to the image in one directory.
  provisioner "shell-local" {
    environment_vars = [
      "REPO=${local.repo}",
      "STAGE=${local.stage}",
      "NODEUP=${local.nodeup}",
      "BUILD=${var.nodeup_binary == "" ? "yes" : "no"}",
      "ARCH=${var.arch}",
      "PROFILE=${local.profile}",
      "VAR_FILE=${var.var_file}",
    ]
    inline = [
      "set -eu",
      "if [ \"$BUILD\" = yes ]; then make -C \"$REPO\" binaries ARCHES=\"$ARCH\"; fi",
      "rm -rf \"$STAGE\" && mkdir -p \"$STAGE/profile\"",
      "install -m 0755 \"$NODEUP\" \"$STAGE/nodeup\"",
      "install -m 0644 \"$REPO/packaging/nodeup-boot.service\" \"$STAGE/nodeup-boot.service\"",
      "if [ -d \"$PROFILE\" ]; then cp -R \"$PROFILE/.\" \"$STAGE/profile/\"; else cp \"$PROFILE\" \"$STAGE/profile/\"; fi",
      "if [ -n \"$VAR_FILE\" ]; then install -m 0600 \"$VAR_FILE\" \"$STAGE/vars.hcl\"; fi",
    ]
  }

  # The file provisioner uploads a directory's contents into one that exists.
  provisioner "shell" {
    inline = ["rm -rf /tmp/nodeup-stage", "mkdir -m 0700 /tmp/nodeup-stage"]
  }

  provisioner "file" {
    source      = "${local.stage}/"
    destination = "/tmp/nodeup-stage"
    # Made by the step above, not there when the template is validated.
    generated = true
  }

  # On the image, as root: install nodeup and its boot unit, bake, and
  # leave neither the download cache nor the staged files behind.
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E sh -eu '{{ .Path }}'"
    inline = [
      "install -m 0755 /tmp/nodeup-stage/nodeup /usr/local/bin/nodeup",
      "install -m 0644 /tmp/nodeup-stage/nodeup-boot.service /etc/systemd/system/nodeup-boot.service",
      "systemctl enable nodeup-boot.service",
      "if [ -f /tmp/nodeup-stage/vars.hcl ]; then set -- --var-file /tmp/nodeup-stage/vars.hcl; fi",
      "nodeup apply /tmp/nodeup-stage/profile --phase bake --no-color \"$@\"",
      "nodeup cache clean",
      "rm -rf /tmp/nodeup-stage",
    ]
  }

  post-processor "shell-local" {
    inline = ["rm -rf ${local.stage}"]
  }
}
