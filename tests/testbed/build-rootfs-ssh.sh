#!/usr/bin/env bash
# Builds $CACHE/rootfs-bookworm-ssh: the test bed's rootfs with the OpenSSH server, sudo and
# Python 3, so a node is an Ansible target over SSH (the fleet tests). Made from
# rootfs-bookworm with apt inside a container on the host's network, in a temp dir renamed
# into place, so the cache never holds a half-built tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
BASE=$CACHE/rootfs-bookworm
OUT=$CACHE/rootfs-bookworm-ssh

log() { printf 'build-rootfs-ssh: %s\n' "$*" >&2; }

if [ -d "$OUT" ]; then
  exit 0
fi
"$here/build-rootfs.sh"

exec 9>"$CACHE/.rootfs-ssh.lock"
flock 9
if [ -d "$OUT" ]; then
  exit 0
fi

tmp=$(mktemp -d "$CACHE/.rootfs-ssh.XXXXXX")
trap 'rm -rf "$tmp" "$tmp.log"' EXIT
t0=$SECONDS
cp -a "$BASE/." "$tmp/"
log "installing openssh-server, sudo and python3"
systemd-nspawn -q -D "$tmp" --register=no --keep-unit --resolv-conf=copy-host \
  sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server sudo python3' \
  >"$tmp.log" 2>&1 || {
  tail -n 30 "$tmp.log" >&2
  exit 1
}
# Every node makes its own host keys at boot (ssh-keygen -A in the test), so copies of
# the image do not share them.
rm -f "$tmp"/etc/ssh/ssh_host_*
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
: >"$tmp/etc/machine-id"

chmod 0755 "$tmp"
mv -T "$tmp" "$OUT"
trap - EXIT
rm -f "$tmp.log"
log "rootfs ready at $OUT in $((SECONDS - t0))s"
