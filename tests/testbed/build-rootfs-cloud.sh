#!/usr/bin/env bash
# Builds $CACHE/rootfs-bookworm-cloud: the test bed's rootfs with what a cloud image has,
# Debian's cloud-init, the OpenSSH server and sudo, for nodes that get user data over the
# NoCloud datasource (a seed directory) or are baked over SSH. It is made from
# rootfs-bookworm with apt inside a container on the host's network, in a temp dir renamed
# into place, so the cache never holds a half-built tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
BASE=$CACHE/rootfs-bookworm
OUT=$CACHE/rootfs-bookworm-cloud

log() { printf 'build-rootfs-cloud: %s\n' "$*" >&2; }

if [ -d "$OUT" ]; then
  exit 0
fi
"$here/build-rootfs.sh"

exec 9>"$CACHE/.rootfs-cloud.lock"
flock 9
if [ -d "$OUT" ]; then
  exit 0
fi

tmp=$(mktemp -d "$CACHE/.rootfs-cloud.XXXXXX")
trap 'rm -rf "$tmp" "$tmp.log"' EXIT
t0=$SECONDS
cp -a "$BASE/." "$tmp/"
log "installing cloud-init, openssh-server and sudo"
systemd-nspawn -q -D "$tmp" --register=no --keep-unit --resolv-conf=copy-host \
  sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cloud-init openssh-server sudo' \
  >"$tmp.log" 2>&1 || {
  tail -n 30 "$tmp.log" >&2
  exit 1
}

# Only the seed directory: no waiting for metadata services that are not there. No
# locale: minbase has no locales package, and cloud-init's locale module fails without one.
cat >"$tmp/etc/cloud/cloud.cfg.d/90-nodeup-testbed.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
locale: false
CFG
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/var/lib/cloud/*
: >"$tmp/etc/machine-id"

chmod 0755 "$tmp"
mv -T "$tmp" "$OUT"
trap - EXIT
rm -f "$tmp.log"
log "rootfs ready at $OUT in $((SECONDS - t0))s"
