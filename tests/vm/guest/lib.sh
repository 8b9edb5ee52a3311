# shellcheck shell=bash
# The helpers the guest scripts share, sourced from the input disk ($IN) by run.sh: the
# checks' output, nodeup and its profile, and the checks of a verification's pod.
#
# The input disk's env file may narrow the run: PHASES (the cgroup drivers, in order), and
# what the script reads besides.
export PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
fails=0
PHASES="systemd cgroupfs"
# shellcheck disable=SC1091
[ -f "$IN/env" ] && . "$IN/env"

section() { printf '\n=== %s (%ss)\n' "$*" "$SECONDS"; }
# check NAME ok|FAIL DETAIL...: one "CHECK <name>: ok|FAIL <detail>" line, which the
# harness reads.
check() {
  local name=$1 st=$2
  shift 2
  echo "CHECK $name: $st $*"
  [ "$st" = ok ] || fails=$((fails + 1))
}
okif() { if "$@"; then echo ok; else echo FAIL; fi; }

# await SECONDS COMMAND...: runs COMMAND every half second until it succeeds or SECONDS
# pass; a readiness poll of something that has no event to wait on.
await() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.5
  done
}
nodeup() { "$IN/nodeup" "$@"; }
profile() { echo "$IN/profile.hcl" --var-file "$IN/vars.hcl" --var "cgroup_driver=$1"; }

# verify_cgroup DRIVER: the pattern of the cgroup nodeup's verification pod runs in under
# DRIVER, below nodeup-verify.
verify_cgroup() {
  case $1 in
  systemd) echo '/nodeup\.slice/nodeup-verify\.slice/cri-containerd-' ;;
  cgroupfs) echo '/nodeup-verify/[0-9a-f]{64}' ;;
  *) echo "no cgroup pattern for the $1 driver" >&2; return 1 ;;
  esac
}

# exited_zero CID: containerd logged the exit of the container whose ID begins with CID,
# with status 0 (the event's text leaves a zero exit_status out). Its journal is synced
# first, so what containerd logged before nodeup returned is there.
exited_zero() {
  local ev
  journalctl --sync
  ev=$(journalctl -u containerd -b --no-pager -o cat | grep -E "received (container )?exit event container_id:[^0-9a-f]*$1")
  echo "$ev"
  [ -n "$ev" ] && ! grep -q 'exit_status:' <<<"$ev"
}

# pod_line HANDLER CHECK OUTPUT: nodeup's passing "pod HANDLER CHECK" line of OUTPUT,
# without its "ok".
pod_line() { sed -nE "s/^ok +(pod $1 $2 .*)/\1/p" <<<"$3"; }

# pod_checks NAME DRIVER OUTPUT [HANDLER]: the checks of the pod a verification ran
# through HANDLER (runc unless given; OUTPUT is nodeup's): its container ran the image's
# command, which exits at once, and it exited 0; the pod ran in DRIVER's cgroup under
# nodeup-verify, with lo up and a bridge address; it was removed, and no pod is left in the
# nodeup-verify namespace. Checks NAME-exits-DRIVER, NAME-cgroup-DRIVER,
# NAME-network-DRIVER, NAME-cleanup-DRIVER, NAME-nothing-left-DRIVER.
pod_checks() {
  local name=$1 driver=$2 out=$3 h=${4:-runc} cg line cid ev
  cg=$(verify_cgroup "$driver")
  # nodeup says the container ran its command and exited 0 when containerd had seen the
  # exit when asked; when asked first, containerd still says running (pid N), and its
  # journal then has the exit, whose status must be 0.
  line=$(pod_line "$h" container "$out")
  cid=$(awk '{ print $4 }' <<<"$line")
  if grep -Eq ' ran its command and exited 0$' <<<"$line"; then
    check "$name-exits-$driver" ok "$line"
  elif [ -n "$cid" ] && grep -Eq ' running \(pid [0-9]+\)$' <<<"$line" && ev=$(exited_zero "$cid"); then
    check "$name-exits-$driver" ok "$line; containerd: ${ev#*msg=}"
  else
    check "$name-exits-$driver" FAIL "${line:-no ok pod $h container line}${ev:+; containerd: $ev}"
  fi
  line=$(pod_line "$h" cgroup "$out")
  check "$name-cgroup-$driver" "$(okif grep -Eq "^pod $h cgroup +$cg" <<<"$line")" "$line"
  line=$(pod_line "$h" network "$out")
  check "$name-network-$driver" "$(okif grep -Eq "^pod $h network +lo up, pod IP 10\\.244\\." <<<"$line")" "$line"
  line=$(pod_line "$h" cleanup "$out")
  check "$name-cleanup-$driver" "$(okif [ -n "$line" ])" "$line"
  check "$name-nothing-left-$driver" "$(okif [ -z "$(crictl pods --namespace nodeup-verify -q 2>/dev/null)" ])"
}

# result: the count of failed checks, and the script's exit status.
result() {
  section "result"
  echo "RESULT: $fails failed checks"
  [ "$fails" = 0 ]
}
