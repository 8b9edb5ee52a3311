#!/bin/bash
# The pod proof without a kubelet, run inside the VM from the input disk (as run.sh): for
# each cgroup driver in PHASES (systemd, then cgroupfs), `nodeup apply` installs
# containerd, runc, crun, the CNI plugins with a bridge network, crictl and the preloaded
# images, and its verification runs a pod through the CRI per handler (runc, crun);
# `nodeup verify --pod` on its own then runs them again; and a plan afterwards changes
# nothing.
#
# Every check prints one "CHECK <name>: ok|FAIL <detail>" line; the harness reads them.
set -u
IN=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$IN/lib.sh"

section "nodeup facts"
nodeup facts

for driver in $PHASES; do
  section "nodeup apply ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup apply $(profile "$driver") 2>&1)
  rc=$?
  echo "$out"
  check "apply-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  pod_checks verify-pod "$driver" "$out"
  pod_checks verify-pod-crun "$driver" "$out" crun

  section "nodeup verify --pod ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup verify $(profile "$driver") --pod 2>&1)
  rc=$?
  echo "$out"
  check "verify-pod-alone-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  pod_checks verify-pod-alone "$driver" "$out"
  pod_checks verify-pod-alone-crun "$driver" "$out" crun

  section "nodeup plan after the apply ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup plan $(profile "$driver") --detailed-exitcode 2>&1)
  rc=$?
  echo "$out"
  check "plan-no-changes-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
done

result
