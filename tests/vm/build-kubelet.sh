#!/usr/bin/env bash
# Builds the kubelet from the Go module proxy and caches it by version:
# $CACHE/bin/kubelet-V/kubelet. k8s.io/kubernetes cannot be `go install`ed (its go.mod
# points its k8s.io/* staging modules at ./staging), so a throwaway module requires it and
# replaces each staging module with its published version (v0.MINOR.PATCH). The version is
# stamped so `kubelet --version` says vV. An existing cache entry is left alone; a build
# lands in a temp dir that is renamed into place.
set -euo pipefail

V=${1:?usage: build-kubelet.sh VERSION}
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
OUT=$CACHE/bin/kubelet-$V

log() { printf 'build-kubelet: %s\n' "$*" >&2; }

[ -x "$OUT/kubelet" ] && exit 0
mkdir -p "$CACHE/bin"
exec 9>"$CACHE/.kubelet.lock"
flock 9
[ -x "$OUT/kubelet" ] && exit 0

work=$(mktemp -d "$CACHE/.work-kubelet.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

t0=$SECONDS
mod=$work/mod
mkdir -p "$mod" "$work/out"
printf 'module nodeup.test/kubelet\n\ngo 1.24\n\nrequire k8s.io/kubernetes v%s\n' "$V" >"$mod/go.mod"
gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@v$V" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || { log "cannot download k8s.io/kubernetes v$V"; exit 1; }
# "k8s.io/api => ./staging/src/k8s.io/api" -> "replace k8s.io/api => k8s.io/api v0.37.2"
staging=v0.${V#*.}
sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/.*#\1#p' "$gomod" | sort -u |
  while read -r m; do printf 'replace %s => %s %s\n' "$m" "$m" "$staging"; done >>"$mod/go.mod"
# go.mod's own replace block may be written one per line with the "replace" keyword too.
sed -n 's#^replace \(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/.*#\1#p' "$gomod" | sort -u |
  while read -r m; do grep -q "^replace $m " "$mod/go.mod" || printf 'replace %s => %s %s\n' "$m" "$m" "$staging"; done >>"$mod/go.mod"
printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kubelet/app"\n' >"$mod/deps.go"
log "building kubelet $V (minutes when cold)"
(cd "$mod" && go mod tidy >/dev/null 2>&1 || go get "k8s.io/kubernetes/cmd/kubelet@v$V")
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -o "$work/out/kubelet" \
  -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$V -X k8s.io/component-base/version.gitTreeState=clean" \
  k8s.io/kubernetes/cmd/kubelet)
"$work/out/kubelet" --version
chmod 0755 "$work/out"
mv -T "$work/out" "$OUT"
log "built kubelet $V in $((SECONDS - t0))s"
