#!/usr/bin/env bash
# Builds runc with seccomp, as upstream's release binaries are, and caches it by version:
# $CACHE/bin/runc-seccomp-V/runc. The test bed's runc is built without seccomp (no
# libseccomp needed), which is enough for nodeup's own pods, but the kubelet asks for the
# runtime's default seccomp profile for every pod sandbox, and such a runc refuses it.
# Linked against the host's libseccomp, which Debian's systemd brings to the VM as well.
set -euo pipefail

V=${1:?usage: build-runc.sh VERSION}
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
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
