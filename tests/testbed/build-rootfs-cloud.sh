#!/usr/bin/env bash
# Builds $CACHE/rootfs-bookworm-cloud: the test bed's rootfs with what a cloud image has,
# Debian's cloud-init, the OpenSSH server and sudo, for nodes that get user data over the
# NoCloud datasource (a seed directory) or are baked over SSH.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/rootfs-variant.sh"

# Only the seed directory: no waiting for metadata services that are not there. No
# locale: minbase has no locales package, and cloud-init's locale module fails without one.
seed_only() {
  cat >"$1/etc/cloud/cloud.cfg.d/90-nodeup-testbed.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
locale: false
CFG
  rm -rf "$1"/var/lib/cloud/*
}

build_variant cloud "cloud-init openssh-server sudo" seed_only
