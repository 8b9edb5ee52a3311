#!/usr/bin/env bash
# Builds the real binaries nodeup installs and lays them out as an artifact mirror in
# the upstream URL layout (docs/profile.md, "mirror": mirror M serves https://HOST/PATH at M/HOST/PATH).
# Upstream release downloads are not reachable here, so everything is built from the Go
# module proxy (or taken from Debian) and packed the way upstream packs it.
#
# Idempotent: binaries are cached per component and version under $CACHE/bin, archives
# under $CACHE/mirror; only what is missing is built. Every cache entry is built in a temp
# dir and renamed into place, so an interrupted run never leaves a half-built entry.
# The manifest and the vars files are rewritten on every run (cheap, always consistent).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${NODEUP_TESTBED_CACHE:-/var/cache/nodeup-testbed}
BIN=$CACHE/bin
MIRROR=$CACHE/mirror
ARCH=amd64

CONTAINERD_VERSIONS=(2.3.4 1.7.30)
RUNC_VERSION=1.4.3
CRUN_VERSION=1.21
CNI_VERSION=1.9.1
CRICTL_VERSION=1.37.0
KATA_VERSION=3.32.0
CONTAINERD_TAGS="no_btrfs no_devmapper no_zfs"
# The CNI plugins linux ships; "windows" is left out on purpose, "sample" is not a plugin.
CNI_PLUGINS=(
  main/bridge main/dummy main/host-device main/ipvlan main/loopback main/macvlan main/ptp
  main/tap main/vlan ipam/dhcp ipam/host-local ipam/static meta/bandwidth meta/firewall
  meta/portmap meta/sbr meta/tuning meta/vrf
)
CNI_REQUIRED=(loopback bridge host-local portmap)

"$here/install-deps.sh"
mkdir -p "$BIN" "$MIRROR"

# Tests in several packages may ask for the mirror at once: one builds, the others wait
# and then find everything cached.
exec 9>"$CACHE/.mirror.lock"
flock 9

# Throwaway work dirs live under the cache (same filesystem, so the final mv is a rename);
# they are removed on any exit.
work=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The module cache and GOPATH of the invoking user are reused so warm builds are fast.
# GOTOOLCHAIN=local: never try to download a toolchain in the middle of a test-bed build.
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"

log() { printf 'build-mirror: %s\n' "$*" >&2; }

# timed NAME CMD...: runs CMD, printing what is built and how long it took.
timed() {
  local name=$1 t0=$SECONDS
  shift
  log "building $name"
  # Explicit: callers use `if ! cached ...`, where errexit does not apply.
  if ! "$@"; then
    log "FAILED $name after $((SECONDS - t0))s"
    return 1
  fi
  log "built $name in $((SECONDS - t0))s"
}

# cached NAME DIR FN ARGS...: unless DIR exists, runs FN with a fresh temp dir as its
# first argument (FN puts the binaries there), then renames the temp dir to DIR.
cached() {
  local name=$1 dir=$2 fn=$3
  shift 3
  if [ -d "$dir" ]; then
    log "cached $name ($dir)"
    return 0
  fi
  local out
  out=$(mktemp -d "$work/out.XXXXXX")
  timed "$name" "$fn" "$out" "$@" || return 1
  chmod 0755 "$out"
  mv -T "$out" "$dir"
}

# go_module_dir: a throwaway module for builds that need their own go.mod.
go_module_dir() {
  local d
  d=$(mktemp -d "$work/mod.XXXXXX")
  printf 'module nodeup.test/testbed\n\ngo 1.24\n' >"$d/go.mod"
  echo "$d"
}

build_containerd() { # OUT VERSION
  local out=$1 v=$2
  case "$v" in
  2.*)
    local pkg=github.com/containerd/containerd/v2
    # Stamped like upstream's Makefile (git describe gives "v2.3.4"), so the CRI
    # Version call reports what a release binary reports.
    (cd "$work" && CGO_ENABLED=0 GOBIN="$out" go install -trimpath -tags "$CONTAINERD_TAGS" \
      -ldflags "-s -w -X $pkg/version.Version=v$v -X $pkg/version.Revision=testbed" \
      "$pkg/cmd/containerd@v$v" "$pkg/cmd/containerd-shim-runc-v2@v$v" "$pkg/cmd/ctr@v$v")
    ;;
  1.*)
    # `go install ...@v1.7.x` refuses: containerd 1.7's go.mod has an exclude directive.
    # A throwaway module that requires it (and repeats the exclude) builds it instead.
    local pkg=github.com/containerd/containerd mod
    mod=$(go_module_dir)
    printf 'require %s v%s\n\nexclude github.com/mitchellh/osext v0.0.0-20151018003038-5e2d6d41470f\n' \
      "$pkg" "$v" >>"$mod/go.mod"
    (cd "$mod" && export GOFLAGS="-mod=mod -buildvcs=false" &&
      go get "$pkg/cmd/containerd@v$v" "$pkg/cmd/containerd-shim-runc-v2@v$v" "$pkg/cmd/ctr@v$v" &&
      CGO_ENABLED=0 go build -trimpath -tags "$CONTAINERD_TAGS" -o "$out/" \
        -ldflags "-s -w -X $pkg/version.Version=v$v -X $pkg/version.Revision=testbed" \
        "$pkg/cmd/containerd" "$pkg/cmd/containerd-shim-runc-v2" "$pkg/cmd/ctr")
    ;;
  esac
}

build_runc_source() { # OUT VERSION
  # runc needs cgo (libcontainer/nsenter); without the seccomp tag it needs no libseccomp.
  # Linked dynamically against glibc: fine for the Debian bookworm nodes it runs on.
  # The version comes from runc's embedded VERSION file.
  (cd "$work" && CGO_ENABLED=1 GOBIN="$out" go install -trimpath -ldflags "-s -w -X main.gitCommit=testbed" \
    "github.com/opencontainers/runc@v$2")
}

# crun: its release binaries cannot be downloaded here, and Debian 12's crun (1.8.1) takes
# only OCI specs of version 1.0 ("unknown version specified" for containerd 2.x's 1.3.0).
# So crun is built from the source of Debian 13's package (the upstream release tarball)
# against bookworm's libraries, which the VM image carries, and published in crun's
# release layout. apt gets the source with its own lists: the host's sources stay as
# they are.
build_crun_source() { # OUT VERSION
  local d
  d=$(mktemp -d "$work/crun.XXXXXX")
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/src"
  echo "deb-src http://deb.debian.org/debian trixie main" >"$d/sources.list"
  local apt=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=/nonexistent
    -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
  apt-get -qq "${apt[@]}" update
  # Only the upstream tarball is needed; the Debian packaging may be missing.
  (cd "$d/src" && apt-get -qq "${apt[@]}" source --download-only crun >/dev/null 2>&1) || true
  [ -f "$d/src/crun_$2.orig.tar.gz" ] || { log "no crun_$2.orig.tar.gz in Debian's crun source"; return 1; }
  tar -xzf "$d/src/crun_$2.orig.tar.gz" -C "$d/src"
  (cd "$d/src/crun-$2" && ./configure -q --disable-criu >/dev/null && make -s -j2 git-version.h crun >/dev/null 2>&1)
  install -m 0755 "$d/src/crun-$2/crun" "$1/crun"
}

build_runc_debian() { # OUT
  local d
  d=$(mktemp -d "$work/deb.XXXXXX")
  (cd "$d" && apt-get download runc >/dev/null && dpkg-deb -x runc_*.deb root)
  install -m 0755 "$d/root/usr/sbin/runc" "$1/runc"
}

build_cni() { # OUT VERSION
  local out=$1 v=$2 pkg=github.com/containernetworking/plugins p name
  local ldflags="-s -w -X $pkg/pkg/utils/buildversion.BuildVersion=v$v"
  # One go install for all of them is fastest; if one plugin does not build, fall back to
  # building them one by one and keep what builds, as long as the required ones do.
  local all=()
  for p in "${CNI_PLUGINS[@]}"; do all+=("$pkg/plugins/$p@v$v"); done
  if (cd "$work" && CGO_ENABLED=0 GOBIN="$out" go install -trimpath -ldflags "$ldflags" "${all[@]}"); then
    return 0
  fi
  log "cni: building all plugins at once failed; building one by one"
  for p in "${CNI_PLUGINS[@]}"; do
    (cd "$work" && CGO_ENABLED=0 GOBIN="$out" go install -trimpath -ldflags "$ldflags" "$pkg/plugins/$p@v$v") ||
      log "cni: plugin $p does not build; left out"
  done
  for name in "${CNI_REQUIRED[@]}"; do
    [ -x "$out/$name" ] || { log "cni: required plugin $name missing"; return 1; }
  done
}

build_crictl() { # OUT VERSION
  (cd "$work" && CGO_ENABLED=0 GOBIN="$1" go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$2" "sigs.k8s.io/cri-tools/cmd/crictl@v$2")
}

build_kata_shim() { # OUT VERSION
  # Kata is not obtainable here (no release downloads, the kata runtime is not served as
  # a Go module, and there is no usable /dev/kvm). This stand-in only answers --version
  # like the real shim and fails for anything else, so nodeup's install and handler
  # registration can be tested while running a kata pod is not.
  local mod
  mod=$(go_module_dir)
  cat >"$mod/main.go" <<GO
// Command containerd-shim-kata-v2 is a test-bed stand-in for the kata shim.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println("Kata Containers containerd shim (Golang): id: \"io.containerd.kata.v2\", version: $2, commit: testbed")
		return
	}
	fmt.Fprintln(os.Stderr, "containerd-shim-kata-v2: test-bed stand-in; kata cannot run on this machine")
	os.Exit(1)
}
GO
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/containerd-shim-kata-v2" .)
}

# Archives are packed reproducibly (sorted, root-owned, fixed mtime, gzip without a name
# or timestamp), so rebuilding an archive from the same binaries gives the same sha256.
TAR=(tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0)

# publish DEST CMD...: runs CMD with a temp file as its last argument, then renames the
# temp file to DEST. Skips if DEST exists.
publish() {
  local dest=$1
  shift
  if [ -f "$dest" ]; then return 0; fi
  mkdir -p "$(dirname "$dest")"
  local tmp="$dest.tmp.$$"
  "$@" "$tmp"
  mv -f "$tmp" "$dest"
  log "published ${dest#"$MIRROR"/}"
}

pack_containerd() { # BINDIR OUT: bin/ at the root, like upstream
  local stage
  stage=$(mktemp -d "$work/stage.XXXXXX")
  mkdir "$stage/bin"
  cp -a "$1/." "$stage/bin/"
  "${TAR[@]}" -C "$stage" -cf - bin | gzip -n -9 >"$2"
}

pack_cni() { # BINDIR OUT: files at the root with a ./ prefix, like upstream
  "${TAR[@]}" -C "$1" -cf - . | gzip -n -9 >"$2"
}

pack_crictl() { # BINDIR OUT: a single crictl at the root
  "${TAR[@]}" -C "$1" -cf - crictl | gzip -n -9 >"$2"
}

pack_kata() { # BINDIR VERSION OUT: the kata-static layout under ./opt/kata
  local bindir=$1 v=$2 out=$3 stage defaults
  stage=$(mktemp -d "$work/stage.XXXXXX")
  defaults=$stage/opt/kata/share/defaults/kata-containers
  mkdir -p "$stage/opt/kata/bin" "$defaults"
  install -m 0755 "$bindir/containerd-shim-kata-v2" "$stage/opt/kata/bin/"
  cat >"$defaults/configuration-qemu.toml" <<TOML
# Minimal kata-containers $v QEMU configuration (test-bed stand-in for the release file).
[hypervisor.qemu]
path = "/opt/kata/bin/qemu-system-x86_64"
kernel = "/opt/kata/share/kata-containers/vmlinux.container"
image = "/opt/kata/share/kata-containers/kata-containers.img"
machine_type = "q35"
default_vcpus = 1
default_maxvcpus = 0
default_memory = 2048
block_device_driver = "virtio-scsi"
shared_fs = "virtio-fs"
virtio_fs_daemon = "/opt/kata/libexec/virtiofsd"
valid_hypervisor_paths = ["/opt/kata/bin/qemu-system-x86_64"]

[agent.kata]
dial_timeout = 45

[runtime]
internetworking_model = "tcfilter"
disable_guest_seccomp = true
sandbox_cgroup_only = false
static_sandbox_resource_mgmt = true
TOML
  ln -s configuration-qemu.toml "$defaults/configuration.toml"
  "${TAR[@]}" -C "$stage" -cf - ./opt | zstd -q -19 -T0 -o "$out"
}

# --- build ---------------------------------------------------------------------------
t_all=$SECONDS
for v in "${CONTAINERD_VERSIONS[@]}"; do
  cached "containerd $v" "$BIN/containerd-$v" build_containerd "$v"
done

# runc: from source if it builds; otherwise Debian's, published under the version it is.
runc_version=$RUNC_VERSION
if [ ! -d "$BIN/runc-$RUNC_VERSION" ] && [ -f "$BIN/runc-fallback-version" ]; then
  runc_version=$(cat "$BIN/runc-fallback-version")
fi
if [ -d "$BIN/runc-$runc_version" ]; then
  log "cached runc $runc_version ($BIN/runc-$runc_version)"
else
  if ! cached "runc $RUNC_VERSION" "$BIN/runc-$RUNC_VERSION" build_runc_source "$RUNC_VERSION"; then
    log "runc $RUNC_VERSION does not build from source; falling back to Debian's runc"
    out=$(mktemp -d "$work/out.XXXXXX")
    timed "runc (Debian)" build_runc_debian "$out"
    # "runc version 1.1.5+ds1" -> 1.1.5
    runc_version=$("$out/runc" --version | sed -n 's/^runc version \([0-9.]*\).*/\1/p')
    chmod 0755 "$out"
    mv -T "$out" "$BIN/runc-$runc_version"
    echo "$runc_version" >"$BIN/runc-fallback-version"
  fi
fi

# Without crun the rest of the test bed still works; the tests that want it say it lacks.
cached "crun $CRUN_VERSION" "$BIN/crun-$CRUN_VERSION" build_crun_source "$CRUN_VERSION" ||
  log "crun $CRUN_VERSION did not build: the mirror has no crun"

cached "cni plugins $CNI_VERSION" "$BIN/cni-$CNI_VERSION" build_cni "$CNI_VERSION"
cached "crictl $CRICTL_VERSION" "$BIN/crictl-$CRICTL_VERSION" build_crictl "$CRICTL_VERSION"
cached "kata shim $KATA_VERSION" "$BIN/kata-$KATA_VERSION" build_kata_shim "$KATA_VERSION"

# --- mirror --------------------------------------------------------------------------
declare -A artifact # "component version" -> path relative to the mirror
for v in "${CONTAINERD_VERSIONS[@]}"; do
  artifact["containerd $v"]=github.com/containerd/containerd/releases/download/v$v/containerd-$v-linux-$ARCH.tar.gz
  publish "$MIRROR/${artifact["containerd $v"]}" pack_containerd "$BIN/containerd-$v"
done
artifact["runc $runc_version"]=github.com/opencontainers/runc/releases/download/v$runc_version/runc.$ARCH
publish "$MIRROR/${artifact["runc $runc_version"]}" cp "$BIN/runc-$runc_version/runc"
if [ -d "$BIN/crun-$CRUN_VERSION" ]; then
  artifact["crun $CRUN_VERSION"]=github.com/containers/crun/releases/download/$CRUN_VERSION/crun-$CRUN_VERSION-linux-$ARCH
  publish "$MIRROR/${artifact["crun $CRUN_VERSION"]}" cp "$BIN/crun-$CRUN_VERSION/crun"
fi
artifact["cni $CNI_VERSION"]=github.com/containernetworking/plugins/releases/download/v$CNI_VERSION/cni-plugins-linux-$ARCH-v$CNI_VERSION.tgz
publish "$MIRROR/${artifact["cni $CNI_VERSION"]}" pack_cni "$BIN/cni-$CNI_VERSION"
artifact["crictl $CRICTL_VERSION"]=github.com/kubernetes-sigs/cri-tools/releases/download/v$CRICTL_VERSION/crictl-v$CRICTL_VERSION-linux-$ARCH.tar.gz
publish "$MIRROR/${artifact["crictl $CRICTL_VERSION"]}" pack_crictl "$BIN/crictl-$CRICTL_VERSION"
artifact["kata $KATA_VERSION"]=github.com/kata-containers/kata-containers/releases/download/$KATA_VERSION/kata-static-$KATA_VERSION-$ARCH.tar.zst
publish "$MIRROR/${artifact["kata $KATA_VERSION"]}" pack_kata "$BIN/kata-$KATA_VERSION" "$KATA_VERSION"

# --- manifest and vars ---------------------------------------------------------------
declare -A sha
manifest_tmp=$MIRROR/manifest.tsv.tmp.$$
printf 'component\tversion\tarch\tpath\tsha256\tsize\n' >"$manifest_tmp"
while IFS= read -r key; do
  path=${artifact[$key]}
  sum=$(sha256sum "$MIRROR/$path" | cut -d' ' -f1)
  size=$(stat -c %s "$MIRROR/$path")
  sha[$key]=$sum
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${key% *}" "${key#* }" "$ARCH" "$path" "$sum" "$size" >>"$manifest_tmp"
done < <(printf '%s\n' "${!artifact[@]}" | sort)

for v in "${CONTAINERD_VERSIONS[@]}"; do
  vars_tmp=$MIRROR/vars-containerd-$v.hcl.tmp.$$
  cat >"$vars_tmp" <<HCL
# Test-bed artifacts in $MIRROR (written by tests/testbed/build-mirror.sh).
containerd_version = "$v"
containerd_sha256  = "${sha["containerd $v"]}"
runc_version       = "$runc_version"
runc_sha256        = "${sha["runc $runc_version"]}"
cni_version        = "$CNI_VERSION"
cni_sha256         = "${sha["cni $CNI_VERSION"]}"
crictl_version     = "$CRICTL_VERSION"
crictl_sha256      = "${sha["crictl $CRICTL_VERSION"]}"
kata_version       = "$KATA_VERSION"
kata_sha256        = "${sha["kata $KATA_VERSION"]}"
HCL
  mv -f "$vars_tmp" "$MIRROR/vars-containerd-$v.hcl"
done
# The manifest goes last: its presence tells the harness the mirror is complete.
mv -f "$manifest_tmp" "$MIRROR/manifest.tsv"
log "mirror ready at $MIRROR in $((SECONDS - t_all))s"
