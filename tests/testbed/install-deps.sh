#!/usr/bin/env bash
# Installs the host packages the test bed needs. Checks first, so a warm run costs
# only a few dpkg lookups; apt-get update runs at most once, and only when something
# is missing (a fresh machine has none of these).
set -euo pipefail

# debootstrap: the node rootfs; systemd-container: systemd-nspawn; zstd: the kata
# archive; gcc + libc6-dev: runc needs cgo; util-linux: nsenter. The real tools nodeup's
# output is checked with: cloud-init (cloud-init schema), packer (packer validate),
# lintian (the .deb), rpm (rpm -qpl on the .rpm). The fleet test's controller:
# ansible-core (ansible-playbook) and openssh-client (its SSH connection). make,
# pkg-config and the -dev packages build crun.
packages=(debootstrap systemd-container zstd gcc libc6-dev util-linux ca-certificates
  cloud-init packer lintian rpm ansible-core openssh-client
  make pkg-config libyajl-dev libseccomp-dev libcap-dev libsystemd-dev)

# One dpkg-query for all of them: a warm run is a single cheap call.
mapfile -t missing < <(
  dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
    awk -v want="${packages[*]}" '$NF == "installed" { ok[$1] = 1 }
      END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!ok[w[i]]) print w[i] }'
)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: missing packages (${missing[*]}) and not root: cannot install" >&2
  exit 1
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for apt's lock rather than fail when another test's install runs at the same time.
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
