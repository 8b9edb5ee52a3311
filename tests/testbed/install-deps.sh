#!/usr/bin/env bash
# Installs the host packages the test bed needs. Checks first, so a warm run costs
# only a few dpkg lookups; apt-get update runs at most once, and only when something
# is missing (a fresh machine has none of these).
set -euo pipefail

# debootstrap: the node rootfs; systemd-container: systemd-nspawn; zstd: the kata
# archive; gcc + libc6-dev: runc needs cgo; util-linux: nsenter.
packages=(debootstrap systemd-container zstd gcc libc6-dev util-linux ca-certificates)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg -s "$p" >/dev/null 2>&1 || ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: missing packages (${missing[*]}) and not root: cannot install" >&2
  exit 1
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
