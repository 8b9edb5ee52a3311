#!/bin/bash
# A real cluster on a nodeup node, run inside the VM from the input disk (as run.sh). For
# each cgroup driver in PHASES (systemd, then cgroupfs): `nodeup apply` makes a kubeadm
# node (containerd, runc, crun, CNI, crictl, the kubelet in kubeadm mode, kubeadm, kubectl,
# the control plane's images preloaded); `kubeadm init --config` (the driver in its
# KubeletConfiguration, the test's image repository, no kube-proxy or CoreDNS, which the test
# bed cannot build) brings a control plane up; the node turns Ready with nodeup's runtime
# label; nodeup's RuntimeClasses are applied and the real scheduler places a pod per
# handler, which runs on it, with `kubectl logs` and `exec` working; a pod asking for a
# RuntimeClass whose label the node lacks stays Pending, unschedulable; the kubelet's
# effective configuration has nodeup's cgroupDriver and endpoint and kubeadm's clientCAFile;
# nodeup's plan and drift metrics find nothing to change after kubeadm wrote its files; a
# re-apply and a kubelet restart (what the next boot does) keep the control plane. Then
# `kubeadm reset` for the next driver.
#
# Every check prints one "CHECK <name>: ok|FAIL <detail>" line, every figure one
# "TIME <name> <seconds>" line; the harness reads both.
set -u
IN=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$IN/lib.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf
NODE=$(hostname)
IP=10.0.2.15
REPO=nodeup.test/k8s
K8S=v1.37.2
SOCK=unix:///run/containerd/containerd.sock

uptime_s() { awk '{ print $1 }' /proc/uptime; }

# The VM's NIC is on qemu's user network with no way out: a static address and a default
# route, which the kubelet needs to pick its node IP.
network() {
  local nic
  nic=$(ip -o link show | awk -F': ' '$2 != "lo" { print $2; exit }')
  ip link set "$nic" up && ip addr add "$IP/24" dev "$nic" && ip route add default via 10.0.2.2
  ip -br addr
}

# patches: kubeadm patches for an emulated CPU, where the control plane starts slowly and
# answers late while the machine is busy: the static pods' probes wait longer before the
# kubelet restarts them.
patches() {
  local c
  mkdir -p /tmp/kubeadm-patches
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    cat >"/tmp/kubeadm-patches/$c+strategic.yaml" <<YAML
spec:
  containers:
  - name: $c
    startupProbe:
      failureThreshold: 90
      timeoutSeconds: 30
    livenessProbe:
      failureThreshold: 30
      timeoutSeconds: 30
YAML
  done
}

# kubeadm_config DRIVER: kubeadm's configuration: the image repository and version the
# preloaded images have, the node's address, nodeup's CRI socket, no image pulls, timeouts
# and probes raised for an emulated CPU, and the kubelet's cgroup driver.
kubeadm_config() {
  cat <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: $IP
  bindPort: 6443
nodeRegistration:
  name: $NODE
  criSocket: $SOCK
  imagePullPolicy: Never
  kubeletExtraArgs:
  - name: node-ip
    value: $IP
patches:
  directory: /tmp/kubeadm-patches
timeouts:
  controlPlaneComponentHealthCheck: 20m0s
  kubeletHealthCheck: 10m0s
  kubernetesAPICall: 15m0s
  etcdAPICall: 15m0s
  tlsBootstrap: 10m0s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $K8S
imageRepository: $REPO
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: $1
YAML
}

# pod NAME CLASS: a pod of the test image through RuntimeClass CLASS; its command prints a
# line and stays up.
pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  runtimeClassName: $2
  terminationGracePeriodSeconds: 1
  containers:
  - name: hello
    image: nodeup.test/busybox:1
    imagePullPolicy: Never
YAML
}

# The RuntimeClass of a handler this node does not have, in the shape nodeup renders for a
# runtime not every node has.
absent_class() {
  cat <<YAML
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: kata-qemu
handler: kata-qemu
scheduling:
  nodeSelector:
    kubernetes.io/os: linux
    runtime.nodeup.io/kata-qemu: "true"
YAML
}

# has_classes: nodeup's RuntimeClasses are in the cluster.
has_classes() { kubectl get runtimeclass runc crun >/dev/null; }

# pending RC: the kata pod's wait (exit RC) saw it unschedulable, and it is still Pending.
pending() { [ "$1" = 0 ] && [ "$(kubectl get pod hello-kata -o jsonpath='{.status.phase}')" = Pending ]; }

# control_plane_kept READYZ: the API server answered ready after the kubelet restart, its
# static pod manifest is there, and kubeadm's config.yaml still names the manifests.
control_plane_kept() {
  [ "$1" = ok ] && kubectl get --raw /readyz >/dev/null &&
    [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ] &&
    grep -q '^staticPodPath: /etc/kubernetes/manifests' /var/lib/kubelet/config.yaml
}

# up DRIVER: apply, kubeadm init, and the node Ready.
up() {
  local driver=$1 out rc t0
  section "nodeup apply ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup apply $(profile "$driver") 2>&1)
  rc=$?
  echo "$out"
  check "apply-$driver" "$(okif [ $rc = 0 ])" "exit $rc"

  section "kubeadm init ($driver)"
  patches
  kubeadm_config "$driver" >"/tmp/kubeadm-$driver.yaml"
  t0=$(uptime_s)
  kubeadm init --config "/tmp/kubeadm-$driver.yaml" --skip-phases=addon/kube-proxy,addon/coredns 2>&1
  rc=$?
  check "kubeadm-init-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  echo "TIME kubeadm-init-$driver $(awk "BEGIN { printf \"%.1f\", $(uptime_s) - $t0 }")"
  [ $rc = 0 ] || return 1

  section "the node Ready ($driver)"
  kubectl wait --for=condition=Ready "node/$NODE" --timeout=15m
  rc=$?
  check "node-ready-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  echo "TIME ready-after-boot-$driver $(uptime_s)"
  echo "TIME ready-after-init-$driver $(awk "BEGIN { printf \"%.1f\", $(uptime_s) - $t0 }")"
  kubectl get nodes -o wide
  check "node-runtime-label-$driver" "$(okif [ "$(kubectl get node "$NODE" -o jsonpath='{.metadata.labels.runtime\.nodeup\.io/crun}')" = true ])" \
    "$(kubectl get node "$NODE" --show-labels --no-headers | awk '{ print $NF }')"
  [ $rc = 0 ]
}

# pods DRIVER: RuntimeClasses, a pod per handler, logs and exec, and the pod that cannot land.
pods() {
  local driver=$1 h out rc
  section "RuntimeClasses ($driver)"
  kubectl taint nodes --all node-role.kubernetes.io/control-plane- >/dev/null
  kubectl apply -f /etc/nodeup/runtimeclasses.yaml
  absent_class | kubectl apply -f -
  kubectl get runtimeclass -o wide
  check "runtimeclasses-$driver" "$(okif has_classes)"
  # The controller-manager makes it; a watch for it may end with the API server's own
  # timeout on a busy machine, so ask until it is there.
  await 900 kubectl get serviceaccount default >/dev/null 2>&1

  for h in runc crun; do
    section "a pod through $h ($driver)"
    pod "hello-$h" "$h" | kubectl apply -f -
    kubectl wait --for=condition=Ready "pod/hello-$h" --timeout=10m
    rc=$?
    check "pod-$h-running-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
    kubectl get pod "hello-$h" -o wide
    kubectl describe pod "hello-$h" | sed -n '/^Events:/,$p'
    check "pod-$h-handler-$driver" "$(okif grep -q "\"runtimeHandler\": \"$h\"" <<<"$(crictl --runtime-endpoint $SOCK pods --name "hello-$h" -o json)")"
    out=$(kubectl logs "hello-$h" 2>&1)
    echo "kubectl logs hello-$h: $out"
    check "pod-$h-logs-$driver" "$(okif grep -q 'hello from the verify pod' <<<"$out")" "$out"
    out=$(kubectl exec "hello-$h" -- sh -c 'echo exec in $(hostname): $(cat /proc/1/cmdline | tr "\0" " ")' 2>&1)
    echo "kubectl exec hello-$h: $out"
    check "pod-$h-exec-$driver" "$(okif grep -q "^exec in hello-$h: /bin/sh -c" <<<"$out")" "$out"
  done

  section "a pod whose RuntimeClass the node lacks ($driver)"
  pod hello-kata kata-qemu | kubectl apply -f -
  kubectl wait --for=jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}'=Unschedulable pod/hello-kata --timeout=5m
  rc=$?
  out=$(kubectl describe pod hello-kata | sed -n '/^Events:/,$p')
  echo "$out"
  check "pod-kata-pending-$driver" "$(okif pending "$rc")" "exit $rc, phase $(kubectl get pod hello-kata -o jsonpath='{.status.phase}')"
  check "pod-kata-reason-$driver" "$(okif grep -q "didn't match Pod's node affinity/selector" <<<"$out")"
}

# owned DRIVER: the kubelet's effective configuration, nodeup's plan and drift metrics after
# kubeadm wrote its files, and a re-apply and a kubelet restart that keep the control plane.
owned() {
  local driver=$1 cz out rc
  section "the kubelet's effective configuration ($driver)"
  cz=$(kubectl get --raw "/api/v1/nodes/$NODE/proxy/configz")
  tr ',' '\n' <<<"$cz" | grep -E '"(cgroupDriver|containerRuntimeEndpoint|clientCAFile|staticPodPath|rotateCertificates)"'
  check "configz-cgroup-driver-$driver" "$(okif grep -q "\"cgroupDriver\":\"$driver\"" <<<"$cz")"
  check "configz-endpoint-$driver" "$(okif grep -q "\"containerRuntimeEndpoint\":\"$SOCK\"" <<<"$cz")"
  check "configz-client-ca-$driver" "$(okif grep -q '"clientCAFile":"/etc/kubernetes/pki/ca.crt"' <<<"$cz")"

  section "nodeup plan after kubeadm ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup plan $(profile "$driver") --detailed-exitcode --metrics-file /tmp/drift.prom 2>&1)
  rc=$?
  echo "$out"
  grep -E '^nodeup_(drift_steps|verify_ok)' /tmp/drift.prom
  check "plan-after-kubeadm-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  check "drift-none-$driver" "$(okif grep -Eq '^nodeup_drift_steps 0$' /tmp/drift.prom)"

  section "re-apply and restart the kubelet ($driver)"
  # shellcheck disable=SC2046
  out=$(nodeup apply $(profile "$driver") 2>&1)
  rc=$?
  echo "$out"
  check "reapply-$driver" "$(okif [ $rc = 0 ])" "exit $rc"
  systemctl restart kubelet
  kubectl wait --for=condition=Ready "node/$NODE" --timeout=10m >/dev/null 2>&1
  out=$(timeout 600 sh -c 'until kubectl get --raw /readyz 2>/dev/null; do sleep 2; done')
  check "control-plane-kept-$driver" "$(okif control_plane_kept "$out")" "readyz: $out"
}

section "network"
network
section "nodeup facts"
nodeup facts
for driver in $PHASES; do
  if up "$driver"; then
    pods "$driver"
    owned "$driver"
  fi
  section "kubeadm reset ($driver)"
  kubeadm reset -f --cri-socket "$SOCK" 2>&1 | tail -n 5
done
result
