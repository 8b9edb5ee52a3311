#!/usr/bin/env bash
# Builds one containerd 2.x release from the Go module proxy into
# $CACHE/bin/containerd-VERSION/ (containerd, containerd-shim-runc-v2, ctr), the same way
# and into the same layout as tests/testbed/build-mirror.sh, for versions that script does
# not build (the config-dump test needs a 2.0–2.2 binary for schema version 3).
# Usage: tests/build-containerd.sh 2.1.6
# Idempotent: an existing directory is kept; the build goes to a temp dir that is renamed
# into place, so an interrupted run leaves nothing half-built.
set -euo pipefail

v=${1:?usage: build-containerd.sh VERSION (2.x)}
case "$v" in 2.*) ;; *) echo "build-containerd: only 2.x versions; 1.7 is built by tests/testbed/build-mirror.sh" >&2; exit 2 ;; esac
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
dest=$CACHE/bin/containerd-$v
if [ -x "$dest/containerd" ]; then
  echo "build-containerd: cached $dest" >&2
  exit 0
fi
mkdir -p "$CACHE/bin"
work=$(mktemp -d "$CACHE/.work-containerd.XXXXXX")
trap 'rm -rf "$work"' EXIT

export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"
pkg=github.com/containerd/containerd/v2
t0=$SECONDS
echo "build-containerd: building containerd $v" >&2
mkdir "$work/out" "$work/mod"
# `go install pkg@version` refuses containerd 2.1+ (its go.mod has exclude directives), so
# build from a throwaway module that requires containerd and repeats its excludes, which
# picks the same dependency versions as upstream's own build.
gomod=$(go mod download -json "$pkg@v$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
excludes=$(awk '/^exclude \($/ {inb=1; next} inb && /^\)/ {inb=0} inb && $1 !~ /^\/\// && NF >= 2 {print $1 "@" $2} /^exclude [^(]/ {print $2 "@" $3}' "$gomod")
cd "$work/mod"
printf 'module nodeup.test/build-containerd\n\ngo 1.24\n\nrequire %s v%s\n' "$pkg" "$v" >go.mod
for e in $excludes; do go mod edit -exclude="$e"; done
export GOFLAGS="-mod=mod -buildvcs=false"
go get "$pkg/cmd/containerd@v$v" "$pkg/cmd/containerd-shim-runc-v2@v$v" "$pkg/cmd/ctr@v$v"
CGO_ENABLED=0 go build -trimpath -tags "no_btrfs no_devmapper no_zfs" -o "$work/out/" \
  -ldflags "-s -w -X $pkg/version.Version=v$v -X $pkg/version.Revision=testbed" \
  "$pkg/cmd/containerd" "$pkg/cmd/containerd-shim-runc-v2" "$pkg/cmd/ctr"
cd /
chmod 0755 "$work/out"
# Another build of the same version may have finished first; its result is as good.
if ! mv -T "$work/out" "$dest" 2>/dev/null && [ ! -x "$dest/containerd" ]; then
  echo "build-containerd: cannot move the build to $dest" >&2
  exit 1
fi
echo "build-containerd: built $dest in $((SECONDS - t0))s" >&2
