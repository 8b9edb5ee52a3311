#!/usr/bin/env bash
# The job nodeup does, done the way containerd's getting-started guide does it by hand:
# download each release archive, check its sha256, unpack or install it, write the
# config and the unit, daemon-reload, enable --now, and wait until the CRI socket
# answers. It redoes all of it on every run. The files it writes are the ones nodeup
# renders for the same profile (RENDERED), so both write the same bytes.
#
# Environment: MIRROR (base URL in the upstream layout), RENDERED (directory laid out
# as under /), and CONTAINERD_VERSION, RUNC_VERSION, CNI_VERSION, CRICTL_VERSION,
# KATA_VERSION with their *_SHA256.
set -euo pipefail

gh=$MIRROR/github.com
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# fetch URL SHA256: download into the work directory and check it.
fetch() {
  curl -fsSLO "$1"
  echo "$2  ${1##*/}" | sha256sum -c --quiet
}

fetch "$gh/containerd/containerd/releases/download/v$CONTAINERD_VERSION/containerd-$CONTAINERD_VERSION-linux-amd64.tar.gz" "$CONTAINERD_SHA256"
tar Cxzf /usr/local "containerd-$CONTAINERD_VERSION-linux-amd64.tar.gz"

fetch "$gh/opencontainers/runc/releases/download/v$RUNC_VERSION/runc.amd64" "$RUNC_SHA256"
install -m 755 runc.amd64 /usr/local/sbin/runc

fetch "$gh/containernetworking/plugins/releases/download/v$CNI_VERSION/cni-plugins-linux-amd64-v$CNI_VERSION.tgz" "$CNI_SHA256"
mkdir -p /opt/cni/bin
tar Cxzf /opt/cni/bin "cni-plugins-linux-amd64-v$CNI_VERSION.tgz" ./loopback ./bridge ./host-local ./portmap

fetch "$gh/kubernetes-sigs/cri-tools/releases/download/v$CRICTL_VERSION/crictl-v$CRICTL_VERSION-linux-amd64.tar.gz" "$CRICTL_SHA256"
tar Cxzf /usr/local/bin "crictl-v$CRICTL_VERSION-linux-amd64.tar.gz"

fetch "$gh/kata-containers/kata-containers/releases/download/$KATA_VERSION/kata-static-$KATA_VERSION-amd64.tar.zst" "$KATA_SHA256"
tar -C / --zstd -xf "kata-static-$KATA_VERSION-amd64.tar.zst"

# The config, the unit, the kubelet's config and the kernel settings.
(cd "$RENDERED" && find . -type f) | while read -r f; do
  install -D -m 644 "$RENDERED/$f" "/${f#./}"
done

systemctl daemon-reload
systemctl enable --now containerd

until crictl --runtime-endpoint unix:///run/containerd/containerd.sock version >/dev/null 2>&1; do
  sleep 0.05
done
