#!/bin/bash
# The cold apply the first boot is compared with (TestFirstBootOnVM, first VM): on a fresh
# machine, `nodeup apply` installs, starts and verifies the first-boot profile from the
# mirror on the input disk. Prints "TIME cold-apply SECONDS" for the harness.
set -u
IN=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$IN/lib.sh"

section "nodeup apply (cold)"
t0=$(date +%s.%N)
# shellcheck disable=SC2046
out=$(nodeup apply $(profile systemd) 2>&1)
rc=$?
t1=$(date +%s.%N)
echo "$out"
check cold-apply "$(okif [ $rc = 0 ])" "exit $rc"
check cold-apply-verified "$(okif grep -Eq '^ *ok +runtime-ready' <<<"$out")"
echo "TIME cold-apply $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")"
result
