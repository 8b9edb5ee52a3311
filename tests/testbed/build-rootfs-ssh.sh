#!/usr/bin/env bash
# Builds $CACHE/rootfs-bookworm-ssh: the test bed's rootfs with the OpenSSH server, sudo and
# Python 3, so a node is an Ansible target over SSH (the fleet tests).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/rootfs-variant.sh"

# Every node makes its own host keys at boot (ssh-keygen -A in the test), so copies of
# the image do not share them.
no_host_keys() { rm -f "$1"/etc/ssh/ssh_host_*; }

build_variant ssh "openssh-server sudo python3" no_host_keys
