#!/bin/bash
# The baked machine's first boot (TestFirstBootOnVM, the second VM booted again):
# nodeup-boot.service applied the kept profile's boot phase, which starts containerd and
# verifies it, and this runs after it. The times come from systemd's monotonic clock,
# which starts with the kernel: "TIME first-boot-verified S" is the kernel's start to
# nodeup-boot.service's end (containerd verified), "TIME first-boot-userspace S" when
# systemd started, "TIME first-boot-unit S" nodeup-boot.service's own run.
set -u
IN=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$IN/lib.sh"

prop() { systemctl show "$1" -P "$2"; }
secs() { awk "BEGIN { printf \"%.2f\", $1 / 1000000 }"; }

section "nodeup-boot.service"
systemctl status --no-pager nodeup-boot.service
journalctl -b --no-pager -o cat -u nodeup-boot.service | tee /tmp/boot.log
check first-boot-unit "$(okif [ "$(prop nodeup-boot.service Result)" = success ])" "$(prop nodeup-boot.service Result)"
check first-boot-verified "$(okif grep -Eq '^ *ok +runtime-ready' /tmp/boot.log)"
check first-boot-containerd "$(okif systemctl is-active -q containerd)"

section "nodeup verify and plan after the first boot"
out=$(nodeup verify /etc/nodeup/profile.d 2>&1)
rc=$?
echo "$out"
check first-boot-verify "$(okif [ $rc = 0 ])" "exit $rc"
out=$(nodeup plan /etc/nodeup/profile.d --detailed-exitcode 2>&1)
rc=$?
echo "$out"
check first-boot-plan-no-changes "$(okif [ $rc = 0 ])" "exit $rc"

start=$(prop nodeup-boot.service ExecMainStartTimestampMonotonic)
end=$(prop nodeup-boot.service ExecMainExitTimestampMonotonic)
user=$(systemctl show -P UserspaceTimestampMonotonic)
echo "TIME first-boot-verified $(secs "$end")"
echo "TIME first-boot-userspace $(secs "$user")"
echo "TIME first-boot-unit $(secs "$((end - start))")"
result
