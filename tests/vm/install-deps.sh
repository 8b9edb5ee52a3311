#!/usr/bin/env bash
# Installs what the VM tests need beside the test bed's packages: qemu (TCG, no KVM
# here), e2fsprogs (mkfs.ext4 -d and debugfs build and read the disks without mounting),
# busybox-static (the test images) and libseccomp-dev (runc with seccomp).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/../testbed/install-deps.sh"
packages=(qemu-system-x86 qemu-utils e2fsprogs busybox-static libseccomp-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
