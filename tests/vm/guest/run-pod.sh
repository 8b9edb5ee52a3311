#!/bin/bash
# The pod test, run inside the VM from the input disk (as run.sh): nodeup applies the
# profile, `nodeup verify --pod` runs a pod through the CRI, then the kubelet runs a static
# pod that must be running in the driver's cgroup with loopback up and a bridge address,
# and go away with its manifest; with the kubelet stopped, `nodeup verify --pod` passes on
# its own. First with the systemd cgroup driver, then with cgroupfs;
# then containerd's SystemdCgroup is edited by hand and verify and plan must say so.
#
# The input disk's env file may narrow the run: PHASES (the drivers, in order) and DRIFT
# (0 leaves the drift out). With UPGRADE_TO (a containerd version, its archive's sha256 in
# UPGRADE_SHA256), a static pod started under the first containerd must survive an apply
# that upgrades containerd in place, and the kubelet must still manage it afterwards.
#
# Every check prints one "CHECK <name>: ok|FAIL <detail>" line; the harness reads them.
set -u
IN=$(cd "$(dirname "$0")" && pwd)
MANIFESTS=/etc/kubernetes/manifests
DRIFT=1
# shellcheck source=lib.sh
. "$IN/lib.sh"

# wait_for SECONDS INTERVAL CMD...: runs CMD until it succeeds or SECONDS pass.
wait_for() {
  local limit=$1 every=$2 start=$SECONDS
  shift 2
  until "$@"; do
    [ $((SECONDS - start)) -ge "$limit" ] && return 1
    sleep "$every"
  done
}

running_hello() { [ -n "$(crictl ps --name '^hello$' --state running -q 2>/dev/null)" ]; }
no_hello_pod() { [ -z "$(crictl pods --name '^hello' -q 2>/dev/null)" ]; }

# start_hello CHECK: puts the static pod's manifest in place and waits for its container
# to run; CHECK fails, and the manifest goes, when it does not.
start_hello() {
  cp "$IN/hello.yaml" "$MANIFESTS/hello.yaml"
  if wait_for 420 10 running_hello; then
    check "$1" ok "after ${SECONDS}s"
    return 0
  fi
  check "$1" FAIL "no running hello container after 420s"
  crictl pods; crictl ps -a; journalctl -u kubelet --no-pager -n 60
  rm -f "$MANIFESTS/hello.yaml"
  return 1
}

# stop_hello CHECK: removes the manifest; CHECK passes when the kubelet removes the pod.
stop_hello() {
  rm -f "$MANIFESTS/hello.yaml"
  if wait_for 300 10 no_hello_pod; then
    check "$1" ok "after ${SECONDS}s"
  else
    check "$1" FAIL "the hello pod is still there 300s after its manifest was removed"
    crictl pods
  fi
}

# phase DRIVER POD_CGROUP: apply, whose verification runs a pod (pod_checks) before the
# kubelet starts; verify --pod with the kubelet running, which must not run a pod the
# kubelet would kill; then a static pod whose /proc/PID/cgroup matches POD_CGROUP.
phase() {
  local driver=$1 pattern=$2 out rc cid pid cg addr
  section "nodeup apply ($driver)"
  # A running kubelet kills pods it did not start: the operator stops it to have the
  # verification's pod run, and apply starts it again once the node is verified.
  systemctl stop kubelet 2>/dev/null
  # shellcheck disable=SC2046
  out=$(nodeup apply $(profile "$driver") 2>&1)
  rc=$?
  echo "$out"
  check "apply-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  pod_checks verify-pod "$driver" "$out"
  check "kubelet-active-$driver" "$(okif systemctl is-active -q kubelet)"

  section "nodeup verify --pod with the kubelet running ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup verify $(profile "$driver") --pod 2>&1)
  rc=$?
  echo "$out"
  check "verify-pod-kubelet-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  check "verify-pod-kubelet-skips-$driver" "$(okif grep -Eq '^skip +pod +not run: a kubelet runs here' <<<"$out")"

  section "static pod ($driver)"
  start_hello "static-pod-running-$driver" || return
  echo "+ crictl pods"
  crictl pods
  echo "+ crictl ps"
  crictl ps
  cid=$(crictl ps --name '^hello$' --state running -q | head -n 1)
  pid=$(crictl inspect -o go-template --template '{{.info.pid}}' "$cid")
  cg=$(cat "/proc/$pid/cgroup")
  echo "+ cat /proc/$pid/cgroup"
  echo "$cg"
  check "static-pod-cgroup-$driver" "$(okif grep -Eq "$pattern" <<<"$cg")" "$cg"
  echo "+ crictl logs $cid"
  crictl logs "$cid" 2>&1
  check "static-pod-log-$driver" "$(okif grep -q 'hello from a static pod' < <(crictl logs "$cid" 2>&1))"
  echo "+ nsenter -t $pid -n ip addr"
  addr=$(nsenter -t "$pid" -n ip addr)
  echo "$addr"
  check "static-pod-lo-$driver" "$(okif grep -Eq '^1: lo: <LOOPBACK,UP,LOWER_UP>' <<<"$addr")"
  check "static-pod-address-$driver" "$(okif grep -Eq 'inet 10\.244\.0\.[0-9]+/24' <<<"$addr")"

  stop_hello "static-pod-removed-$driver"

  section "nodeup verify --pod with the kubelet stopped ($driver)"
  # What an operator runs to prove the node: the pod runs through the CRI, in the driver's
  # cgroup, with its network, and is removed.
  systemctl stop kubelet
  # shellcheck disable=SC2046
  out=$(nodeup verify $(profile "$driver") --pod 2>&1)
  rc=$?
  echo "$out"
  check "verify-pod-alone-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  pod_checks verify-pod-alone "$driver" "$out"
  systemctl start kubelet
  check "kubelet-restarted-$driver" "$(okif systemctl is-active -q kubelet)"

  section "nodeup plan after the apply ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup plan $(profile "$driver") --detailed-exitcode 2>&1)
  rc=$?
  echo "$out"
  check "plan-no-changes-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
}

section "nodeup facts"
nodeup facts

for driver in $PHASES; do
  case $driver in
  systemd)
    phase systemd '^0::/kubepods\.slice/kubepods-besteffort\.slice/kubepods-besteffort-pod[^/]*\.slice/cri-containerd-'
    ;;
  cgroupfs)
    # Both sides follow the profile (containerd's SystemdCgroup, the kubelet's
    # cgroupDriver) and the paths show it.
    phase cgroupfs '^0::/kubepods/besteffort/pod'
    ;;
  esac
done

# upgrade FROM_DRIVER: a static pod runs; an apply moves containerd to $UPGRADE_TO with
# one restart; the pod's container is the same process afterwards, containerd serves it
# over the CRI, and the kubelet removes it with its manifest.
upgrade() {
  local driver=$1 out rc cid pid sandbox since lines stops starts after
  section "upgrade: a running pod across containerd $(containerd --version | awk '{print $3}') -> $UPGRADE_TO"
  systemctl start kubelet
  start_hello upgrade-pod-before || return
  cid=$(crictl ps --name '^hello$' --state running -q | head -n 1)
  pid=$(crictl inspect -o go-template --template '{{.info.pid}}' "$cid")
  sandbox=$(crictl pods --name '^hello' --state ready -q | head -n 1)
  echo "+ crictl ps (before the upgrade)"
  crictl ps
  since=$(date +%s)
  # shellcheck disable=SC2046
  out=$(nodeup apply $(profile "$driver") --var "containerd_version=$UPGRADE_TO" --var "containerd_sha256=$UPGRADE_SHA256" 2>&1)
  rc=$?
  echo "$out"
  check "upgrade-apply" "$(okif [ $rc = 0 ])" "exit $rc"
  check "upgrade-version" "$(okif grep -q " v$UPGRADE_TO " < <(containerd --version))" "$(containerd --version)"
  check "upgrade-config-schema" "$(okif grep -Eq '^version = [34]$' /etc/containerd/config.toml)" "$(grep -E '^version' /etc/containerd/config.toml)"
  lines=$(journalctl -u containerd --since "@$since" --no-pager -o short-monotonic | grep -E '(Stopping|Started) containerd')
  echo "+ containerd's journal during the upgrade"
  echo "$lines"
  stops=$(grep -c 'Stopping containerd' <<<"$lines")
  starts=$(grep -c 'Started containerd' <<<"$lines")
  check "upgrade-one-restart" "$(okif [ "$stops" = 1 ] && [ "$starts" = 1 ])" "stopped $stops, started $starts times"
  echo "+ crictl ps (after the upgrade)"
  crictl ps
  check "upgrade-pod-process-survives" "$(okif kill -0 "$pid")" "pid $pid"
  after=$(crictl inspect -o go-template --template '{{.info.pid}}' "$cid" 2>&1)
  check "upgrade-pod-same-container" "$(okif [ "$after" = "$pid" ])" "container $cid: pid $pid before, $after after"
  check "upgrade-pod-running" "$(okif [ -n "$(crictl ps --id "$cid" --state running -q)" ])"
  check "upgrade-sandbox-ready" "$(okif [ -n "$(crictl pods --id "$sandbox" --state ready -q)" ])" "sandbox $sandbox"
  # The kubelet still manages it: no second container, and the manifest's removal
  # removes the pod.
  check "upgrade-pod-not-restarted" "$(okif [ "$(crictl ps -a --name '^hello$' -q | wc -l)" = 1 ])" "$(crictl ps -a --name '^hello$' -q | wc -l) hello containers"
  stop_hello "upgrade-kubelet-removes-pod"
}

if [ -n "${UPGRADE_TO:-}" ]; then
  upgrade "${PHASES%% *}"
fi

if [ "$DRIFT" = 1 ]; then
  section "drift: SystemdCgroup edited by hand"
  sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
  grep -n SystemdCgroup /etc/containerd/config.toml
  systemctl stop kubelet
  systemctl restart containerd
  # shellcheck disable=SC2046
  out=$(nodeup verify $(profile cgroupfs) --pod 2>&1)
  rc=$?
  echo "$out"
  check "drift-verify-fails" "$(okif [ $rc = 1 ])" "exit $rc"
  check "drift-verify-says-which" "$(okif grep -q "containerd's runc uses the systemd cgroup driver, while node.cgroup_driver is cgroupfs" <<<"$out")"
  # shellcheck disable=SC2046
  out=$(nodeup plan $(profile cgroupfs) --detailed-exitcode 2>&1)
  rc=$?
  echo "$out"
  check "drift-plan-changes" "$(okif [ $rc = 2 ])" "exit $rc"
  check "drift-plan-shows-config" "$(okif grep -q 'SystemdCgroup' <<<"$out")"
fi

result
