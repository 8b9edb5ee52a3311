#!/usr/bin/env bash
# Builds the distribution registry (github.com/distribution/distribution/v3/cmd/registry,
# the registry behind most private registries) from the Go module proxy, for the tests
# that pull from a real registry over TLS with authentication; and beside it `htpasswd`,
# which prints the bcrypt htpasswd line the registry's basic auth reads. Both come from one
# throwaway module that requires the registry, so bcrypt is the registry's own and nodeup's
# go.mod gains nothing.
#
# Idempotent: the binaries are cached under $CACHE/bin/registry-VERSION/; they are built in
# a temp dir and renamed into place, so an interrupted run never leaves a half-built entry.
set -euo pipefail

CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
VERSION=3.1.2
PKG=github.com/distribution/distribution/v3
dir=$CACHE/bin/registry-$VERSION

log() { printf 'build-registry: %s\n' "$*" >&2; }

mkdir -p "$CACHE/bin"
# Tests in several packages may ask at once: one builds, the others wait.
exec 9>"$CACHE/.registry.lock"
flock 9
if [ -x "$dir/registry" ] && [ -x "$dir/htpasswd" ]; then
  log "cached registry $VERSION ($dir)"
  exit 0
fi

work=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
mod=$work/mod
mkdir -p "$mod/htpasswd" "$work/out"
printf 'module nodeup.test/registry\n\ngo 1.26.0\n\nrequire %s v%s\n' "$PKG" "$VERSION" >"$mod/go.mod"
cat >"$mod/htpasswd/main.go" <<'GO'
// Command htpasswd prints the htpasswd line (bcrypt) of a user and a password.
package main

import (
	"fmt"
	"os"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: htpasswd USER PASSWORD")
		os.Exit(2)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(os.Args[2]), bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s:%s\n", os.Args[1], hash)
}
GO
t0=$SECONDS
log "building registry $VERSION"
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/out/" "$PKG/cmd/registry" ./htpasswd)
chmod 0755 "$work/out"
rm -rf "$dir"
mv -T "$work/out" "$dir"
log "built registry $VERSION in $((SECONDS - t0))s"
