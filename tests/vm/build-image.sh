#!/usr/bin/env bash
# Builds the cached VM image the VM tests boot: $CACHE/vm/bookworm-2/{disk.img,vmlinuz,initrd.img}.
# It is the test bed's Debian bookworm rootfs (tests/testbed/build-rootfs.sh) plus Debian's
# cloud kernel, the tools a node needs to run pods (kmod, iptables), and nodeup-e2e.service:
# at boot it mounts the input disk (LABEL=nodeup-in) read-only and the results disk
# (LABEL=nodeup-out), runs the input disk's run.sh with its output on the console and in
# the results disk, and powers the VM off whatever happens. Everything a test needs
# (nodeup, profiles, the artifact mirror) comes on the input disk, so the image is built
# once. An existing image is left alone; a build lands in a temp dir renamed into place.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
# The image's revision is in its name (as in vm.go's CachedImage): a new one is built when
# what the image holds changes, and no test boots an older one.
OUT=$CACHE/vm/bookworm-2
DISK_SIZE=4G

log() { printf 'build-image: %s\n' "$*" >&2; }

"$here/install-deps.sh"
[ -f "$OUT/disk.img" ] && exit 0
"$here/../testbed/build-rootfs.sh"

mkdir -p "$CACHE/vm"
exec 9>"$CACHE/vm/.image.lock"
flock 9
[ -f "$OUT/disk.img" ] && exit 0

t0=$SECONDS
work=$(mktemp -d "$CACHE/vm/.image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
cp -a "$CACHE/rootfs-bookworm" "$root"

# The kernel and what pods need, from the Debian archive the rootfs's apt already names;
# libyajl2 is the one library the test bed's crun (build-mirror.sh) links that the rootfs lacks.
log "installing the cloud kernel into the image"
systemd-nspawn -q -D "$root" --register=no --keep-unit --resolv-conf=replace-host sh -ec '
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq update
  apt-get -qq install -y --no-install-recommends linux-image-cloud-amd64 initramfs-tools kmod iptables e2fsprogs procps libyajl2 >/dev/null
  apt-get -qq clean
  rm -rf /var/lib/apt/lists/*' >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }

echo nodeup-vm >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	nodeup-vm
::1	localhost ip6-localhost ip6-loopback
HOSTS
: >"$root/etc/resolv.conf"
printf 'LABEL=nodeup-root / ext4 rw,noatime 0 1\n' >"$root/etc/fstab"
# nspawn masked the console gettys; the VM's console is the serial port, and no login is
# wanted there either: the test unit owns it.
rm -f "$root/etc/systemd/system/console-getty.service" "$root/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"

install -m 0755 "$here/guest/nodeup-e2e" "$root/usr/local/sbin/nodeup-e2e"
install -m 0644 "$here/guest/nodeup-e2e.service" "$root/etc/systemd/system/nodeup-e2e.service"
ln -sf /etc/systemd/system/nodeup-e2e.service "$root/etc/systemd/system/multi-user.target.wants/nodeup-e2e.service"

mkdir -p "$work/out"
cp -L "$root/vmlinuz" "$work/out/vmlinuz"
cp -L "$root/initrd.img" "$work/out/initrd.img"
truncate -s "$DISK_SIZE" "$work/out/disk.img"
mkfs.ext4 -q -L nodeup-root -d "$root" "$work/out/disk.img"
rm -rf "$root"
mv -T "$work/out" "$OUT"
log "image ready at $OUT in $((SECONDS - t0))s"
