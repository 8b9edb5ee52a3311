#!/usr/bin/env bash
# Builds etcd's server from the Go module proxy and caches it by version:
# $CACHE/bin/etcd-V/etcd. go.etcd.io/etcd/server/v3 replaces its sibling modules with
# ../api, ../client/... (paths of etcd's own repository), so `go install` refuses it; a
# throwaway module requires it and the siblings at the same version. An existing cache
# entry is left alone; a build lands in a temp dir that is renamed into place.
set -euo pipefail

V=${1:?usage: build-etcd.sh VERSION}
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
OUT=$CACHE/bin/etcd-$V

log() { printf 'build-etcd: %s\n' "$*" >&2; }

[ -x "$OUT/etcd" ] && exit 0
mkdir -p "$CACHE/bin"
exec 9>"$CACHE/.etcd.lock"
flock 9
[ -x "$OUT/etcd" ] && exit 0

work=$(mktemp -d "$CACHE/.work-etcd.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

t0=$SECONDS
mod=$work/mod
mkdir -p "$mod" "$work/out"
{
  printf 'module nodeup.test/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n\n' "$V"
  for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
    printf 'replace go.etcd.io/etcd/%s => go.etcd.io/etcd/%s v%s\n' "$m" "$m" "$V"
  done
} >"$mod/go.mod"
printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' >"$mod/deps.go"
log "building etcd $V"
(cd "$mod" && go mod tidy >/dev/null)
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -o "$work/out/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3)
"$work/out/etcd" --version >&2
chmod 0755 "$work/out"
mv -T "$work/out" "$OUT"
log "built etcd $V in $((SECONDS - t0))s"
