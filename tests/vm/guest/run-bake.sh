#!/bin/bash
# An image build in the VM (TestFirstBootOnVM, second VM): nodeup goes to /usr/local/bin
# with nodeup-boot.service enabled, as the packages or an image recipe put them, and
# `nodeup apply --phase bake` installs the first-boot profile from the mirror on the input
# disk, keeps it in /etc/nodeup/profile.d, enables the units and starts nothing, and the
# download cache is emptied, as image builds do (the image archive stays staged). The test's
# own unit is ordered after nodeup-boot.service for the next boot, so that boot's run.sh
# reads a finished first boot. Prints "TIME bake SECONDS".
set -u
IN=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$IN/lib.sh"

install -m 0755 "$IN/nodeup" /usr/local/bin/nodeup
install -m 0644 "$IN/nodeup-boot.service" /etc/systemd/system/nodeup-boot.service
systemctl enable nodeup-boot.service
mkdir -p /etc/systemd/system/nodeup-e2e.service.d
printf '[Unit]\nAfter=nodeup-boot.service\n' >/etc/systemd/system/nodeup-e2e.service.d/after-first-boot.conf

section "nodeup apply --phase bake"
t0=$(date +%s.%N)
# shellcheck disable=SC2046
out=$(nodeup apply $(profile systemd) --phase bake 2>&1)
rc=$?
t1=$(date +%s.%N)
echo "$out"
check bake "$(okif [ $rc = 0 ])" "exit $rc"
check bake-kept-profile "$(okif [ -f /etc/nodeup/profile.d/nodeup.auto.vars.hcl ])"
check bake-started-nothing "$(okif [ "$(systemctl is-active containerd)" = inactive ])" "containerd $(systemctl is-active containerd)"
check bake-enabled-containerd "$(okif systemctl is-enabled -q containerd)"
section "nodeup cache clean"
nodeup cache clean
check bake-cache-clean "$(okif [ -z "$(ls -A /var/cache/nodeup 2>/dev/null)" ])"
check bake-image-staged "$(okif [ -n "$(ls /var/lib/nodeup/images/*.tar 2>/dev/null)" ])" "$(ls /var/lib/nodeup/images/)"
echo "TIME bake $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
result
