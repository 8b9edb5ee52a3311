#!/usr/bin/env bash
# Builds the benchmark's node image: a copy of the test bed's rootfs with what the
# tools nodeup is compared with need (curl for the getting-started script, ansible-core
# for the playbook, python3 for the loopback HTTP mirror, zstd for the kata archive).
# Every contender boots this same image. Packages come from the suite the rootfs was
# bootstrapped from (its own apt sources). Built in a temp dir and renamed into place;
# rebuilt when this script is newer than the image.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
BASE=$CACHE/rootfs-bookworm
IMAGE=$CACHE/rootfs-bookworm-bench
PACKAGES=(python3 ansible-core zstd curl)

log() { printf 'build-image: %s\n' "$*" >&2; }

"$here/../testbed/build-rootfs.sh"

exec 9>"$CACHE/.bench-image.lock"
flock 9
if [ -f "$IMAGE/.bench-image" ] && [ "$IMAGE/.bench-image" -nt "${BASH_SOURCE[0]}" ]; then
  exit 0
fi

tmp=$(mktemp -d "$CACHE/.bench-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS
log "copying $BASE"
cp -a "$BASE/." "$tmp/"
log "installing ${PACKAGES[*]}"
# The container shares the host's network (no --private-network) to reach the
# package mirror; it is not booted, so nothing starts.
systemd-nspawn -q -D "$tmp" --register=no --keep-unit \
  env DEBIAN_FRONTEND=noninteractive sh -c \
  "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${PACKAGES[*]} >/dev/null && apt-get clean" >&2
printf '%s\n' "${PACKAGES[@]}" >"$tmp/.bench-image"
rm -rf "$IMAGE"
mv -T "$tmp" "$IMAGE"
trap - EXIT
log "built $IMAGE in $((SECONDS - t0))s"
