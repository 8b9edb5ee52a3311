#!/usr/bin/env bash
# Builds Kubernetes' binaries from the Go module proxy and caches them by version:
# $CACHE/bin/kubernetes-V/NAME for each NAME asked (kubelet, kubeadm, kubectl,
# kube-apiserver, kube-controller-manager, kube-scheduler). k8s.io/kubernetes cannot be
# `go install`ed (its go.mod points its k8s.io/* staging modules at ./staging), so a
# throwaway module requires it and replaces each staging module with its published version
# (v0.MINOR.PATCH). Every binary is stamped so `--version` says vV (kubeadm refuses an
# unstamped build). One `go build` builds them all, sharing the packages they have in
# common. What is cached already is left alone; a build lands in a temp dir and each binary
# is renamed into place.
set -euo pipefail

V=${1:?usage: build-kube.sh VERSION NAME...}
shift
[ $# -gt 0 ] || set -- kubelet
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
OUT=$CACHE/bin/kubernetes-$V

log() { printf 'build-kube: %s\n' "$*" >&2; }

missing() { local n; for n in "$@"; do [ -x "$OUT/$n" ] || printf '%s\n' "$n"; done; }

[ -z "$(missing "$@")" ] && exit 0
mkdir -p "$CACHE/bin" "$OUT"
exec 9>"$CACHE/.kubernetes.lock"
flock 9
mapfile -t want < <(missing "$@")
[ ${#want[@]} -eq 0 ] && exit 0

work=$(mktemp -d "$CACHE/.work-kube.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

t0=$SECONDS
mod=$work/mod
mkdir -p "$mod" "$work/out"
printf 'module nodeup.test/kubernetes\n\ngo 1.24\n\nrequire k8s.io/kubernetes v%s\n' "$V" >"$mod/go.mod"
gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@v$V" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || { log "cannot download k8s.io/kubernetes v$V"; exit 1; }
# "k8s.io/api => ./staging/src/k8s.io/api" -> "replace k8s.io/api => k8s.io/api v0.37.2"
staging=v0.${V#*.}
sed -n 's#^[[:space:]]*\(replace \)\{0,1\}\(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/.*#\2#p' "$gomod" | sort -u |
  while read -r m; do printf 'replace %s => %s %s\n' "$m" "$m" "$staging"; done >>"$mod/go.mod"
pkgs=()
{
  printf 'package main\n\nimport (\n'
  for n in "${want[@]}"; do
    case $n in
      kubectl) p=k8s.io/kubernetes/cmd/kubectl ;;
      kubelet | kubeadm | kube-apiserver | kube-controller-manager | kube-scheduler) p=k8s.io/kubernetes/cmd/$n ;;
      *) log "unknown binary $n (kubelet, kubeadm, kubectl, kube-apiserver, kube-controller-manager, kube-scheduler)"; exit 2 ;;
    esac
    pkgs+=("$p")
    printf '\t_ "%s/app"\n' "$p"
  done
  printf ')\n'
} >"$mod/deps.go"
# kubectl's main package has no app/ of its own: import its command package instead.
sed -i 's#"k8s.io/kubernetes/cmd/kubectl/app"#"k8s.io/kubectl/pkg/cmd"#' "$mod/deps.go"
log "building ${want[*]} $V (long when cold)"
(cd "$mod" && go mod tidy >/dev/null)
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -o "$work/out/" \
  -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$V -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=v$V" \
  "${pkgs[@]}")
for n in "${want[@]}"; do
  case $n in
    kubectl) "$work/out/$n" version --client >&2 ;;
    kubeadm) "$work/out/$n" version -o short >&2 ;;
    *) "$work/out/$n" --version >&2 ;;
  esac
  mv -f "$work/out/$n" "$OUT/$n"
done
log "built ${want[*]} $V in $((SECONDS - t0))s"
