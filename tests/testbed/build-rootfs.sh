#!/usr/bin/env bash
# Builds the cached Debian bookworm rootfs that every test node is copied from:
# $CACHE/rootfs-bookworm, a minbase system with systemd as init, D-Bus and iproute2.
#
# The package mirror is the one the host's apt already uses (read from its sources), so no
# archive host is named here. The rootfs is built in a temp dir and renamed into place, so
# the cache never holds a half-built tree; an existing rootfs is left alone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
SUITE=bookworm
ROOTFS=$CACHE/rootfs-$SUITE

log() { printf 'build-rootfs: %s\n' "$*" >&2; }

if [ -d "$ROOTFS" ]; then
  exit 0
fi

# apt_mirror prints the URI the host's apt uses for the $SUITE suite (not -security or
# -updates): deb822 sources first, then the one-line format.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() { if (uri != "" && found) { print uri; exit } uri = ""; found = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
      END { flush() }' "$f"
  done | head -n 1 | grep . && return 0
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) == suite) { print $i; exit } break } }' |
    grep .
}

"$here/install-deps.sh"
mkdir -p "$CACHE"

# Tests in several packages may ask for the rootfs at once: one builds, the others wait.
exec 9>"$CACHE/.rootfs.lock"
flock 9
if [ -d "$ROOTFS" ]; then
  exit 0
fi

mirror=$(apt_mirror) || { log "cannot find the $SUITE mirror in the host's apt sources"; exit 1; }
tmp=$(mktemp -d "$CACHE/.rootfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

t0=$SECONDS
log "debootstrap $SUITE from $mirror"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,iproute2 \
  "$SUITE" "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
  tail -n 30 "$tmp.log" >&2
  rm -f "$tmp.log"
  exit 1
}
rm -f "$tmp.log"

# Every node is a copy: an empty machine-id makes systemd give each boot its own, and
# D-Bus reads the same one.
: >"$tmp/etc/machine-id"
rm -f "$tmp/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$tmp/var/lib/dbus/machine-id"

# debootstrap copies the host's hostname; without one, systemd keeps the machine name
# nspawn sets.
rm -f "$tmp/etc/hostname"

# Pod sandboxes bind-mount /etc/hosts; debootstrap does not write one.
cat >"$tmp/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF

# Units that only cost boot time in a container: consoles (nspawn runs without a tty
# here), periodic maintenance, and the network wait.
for unit in console-getty.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-networkd-wait-online.service; do
  ln -sf /dev/null "$tmp/etc/systemd/system/$unit"
done

# Smaller copies per test: package downloads and lists are not needed on a node.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*

chmod 0755 "$tmp"
mv -T "$tmp" "$ROOTFS"
trap - EXIT
log "rootfs ready at $ROOTFS ($(du -sh "$ROOTFS" | cut -f1)) in $((SECONDS - t0))s"
