#!/usr/bin/env bash
# Builds runc with seccomp, as upstream's release binaries are, and caches it by version:
# $CACHE/bin/runc-seccomp-V/runc. V is the argument, or else the test bed mirror's runc
# (its manifest), which the VM tests install. The test bed's runc is built without seccomp
# (no libseccomp needed), which is enough for its container nodes, which run no pods, but
# the kubelet asks for the runtime's default seccomp profile for every pod sandbox, and so
# does nodeup's verification pod, and such a runc refuses it. Linked against the host's
# libseccomp, which Debian's systemd brings to the VM as well.
set -euo pipefail

CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
V=${1:-$(awk -F'\t' '$1 == "runc" { print $2 }' "$CACHE/mirror/manifest.tsv" 2>/dev/null || true)}
[ -n "$V" ] || { echo "usage: build-runc.sh [VERSION] (no runc in $CACHE/mirror/manifest.tsv: run tests/testbed/build-mirror.sh)" >&2; exit 2; }
OUT=$CACHE/bin/runc-seccomp-$V

[ -x "$OUT/runc" ] && exit 0
mkdir -p "$CACHE/bin"
exec 9>"$CACHE/.runc-seccomp.lock"
flock 9
[ -x "$OUT/runc" ] && exit 0

work=$(mktemp -d "$CACHE/.work-runc.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"
t0=$SECONDS
(cd "$work" && CGO_ENABLED=1 GOBIN="$work/out" go install -trimpath -tags seccomp \
  -ldflags "-s -w -X main.gitCommit=testbed" "github.com/opencontainers/runc@v$V")
"$work/out/runc" --version
"$work/out/runc" --version | grep -q '^libseccomp:' || { echo "build-runc: runc $V has no seccomp support" >&2; exit 1; }
chmod 0755 "$work/out"
mv -T "$work/out" "$OUT"
echo "build-runc: built runc $V with seccomp in $((SECONDS - t0))s" >&2
