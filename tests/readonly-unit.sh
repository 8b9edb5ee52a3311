#!/usr/bin/env bash
# Runs the unit tests (go test ./..., no opt-in) as root with every file
# system read-only but a scratch TMPDIR and the Go build cache, so a test
# that changed the machine — installed a package, wrote under /etc, built
# the test bed — fails instead of changing it. Not root: plain go test.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
  exec "$GO" test -count=1 ./...
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cache=$("$GO" env GOCACHE)
mkdir -p "$cache"
unshare -m env SCRATCH="$scratch" CACHE="$cache" GO="$GO" bash -c '
set -euo pipefail
mount --make-rprivate /
mount --bind "$SCRATCH" "$SCRATCH"
mount --bind "$CACHE" "$CACHE"
findmnt -rn -o TARGET | sort -r | while read -r m; do
  case $m in /proc*|/sys*|/dev*|"$SCRATCH"|"$CACHE") continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
if touch /etc/.nodeup-readonly-probe 2>/dev/null; then
  echo "readonly-unit.sh: / is still writable; refusing to run the tests" >&2
  exit 1
fi
echo "readonly-unit.sh: every file system read-only but $SCRATCH and $CACHE" >&2
TMPDIR=$SCRATCH "$GO" test -count=1 ./...
'
