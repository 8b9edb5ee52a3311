# Sourced by the build-rootfs-*.sh scripts: build_variant NAME PACKAGES [HOOK] makes
# $CACHE/rootfs-bookworm-NAME from the test bed's rootfs-bookworm with Debian's PACKAGES
# installed by apt inside a container on the host's network, then runs HOOK (a function
# given the tree) and clears apt's caches, in a temp dir renamed into place, so the cache
# never holds a half-built tree. One build at a time per variant (a lock).

build_variant() {
  local name=$1 packages=$2 hook=${3:-}
  local here CACHE BASE OUT tmp t0
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
  BASE=$CACHE/rootfs-bookworm
  OUT=$CACHE/rootfs-bookworm-$name
  if [ -d "$OUT" ]; then
    return 0
  fi
  "$here/build-rootfs.sh"

  exec 9>"$CACHE/.rootfs-$name.lock"
  flock 9
  if [ -d "$OUT" ]; then
    return 0
  fi
  tmp=$(mktemp -d "$CACHE/.rootfs-$name.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp' '$tmp.log'" EXIT
  t0=$SECONDS
  cp -a "$BASE/." "$tmp/"
  printf 'build-rootfs-%s: installing %s\n' "$name" "$packages" >&2
  systemd-nspawn -q -D "$tmp" --register=no --keep-unit --resolv-conf=copy-host \
    sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages" \
    >"$tmp.log" 2>&1 || {
    tail -n 30 "$tmp.log" >&2
    exit 1
  }
  if [ -n "$hook" ]; then
    "$hook" "$tmp"
  fi
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
  : >"$tmp/etc/machine-id"
  chmod 0755 "$tmp"
  mv -T "$tmp" "$OUT"
  trap - EXIT
  rm -f "$tmp.log"
  printf 'build-rootfs-%s: rootfs ready at %s in %ss\n' "$name" "$OUT" "$((SECONDS - t0))" >&2
}
