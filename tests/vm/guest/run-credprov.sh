#!/bin/bash
# Kubelet image credential providers on a real node, run inside the VM from the input disk
# (as run.sh). The test's registry runs on the node (plain HTTP, basic auth: it answers 401
# without the username and password) as registry.nodeup.test:5000 with the test image
# pushed to it. `nodeup apply` of the profile without a provider (without/) installs a
# standalone kubelet, whose static pod from that registry fails to pull with 401; `nodeup
# apply` of the profile with the test's provider (with/) installs the provider and its
# CredentialProviderConfig (0600: the password is sensitive), restarts the kubelet with
# nodeup's flags, and the kubelet pulls and runs the pod with the provider's credentials.
#
# Every check prints one "CHECK <name>: ok|FAIL <detail>" line; the harness reads them.
set -u
IN=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$IN/lib.sh"
# shellcheck disable=SC1091
. "$IN/registry.env"
IMAGE=registry.nodeup.test:5000/private/hello:1
SOCK=unix:///run/containerd/containerd.sock

listening() { (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null; }
# denied: the kubelet's pull of IMAGE failed for want of credentials, and the registry
# answered its manifest request 401.
denied() {
  journalctl -u kubelet -b --no-pager -o cat | grep -m1 -E "PullImage from image service failed.*authorization failed.*image=\"$IMAGE\"" >/tmp/denied &&
    grep -m1 -E '"(HEAD|GET) /v2/private/hello/manifests/1 [^"]*" 401 ' /var/log/registry.log >>/tmp/denied
}
running() { [ -n "$(crictl --runtime-endpoint $SOCK ps --name hello --state Running -q 2>/dev/null)" ]; }

section "the test's registry"
echo "127.0.0.1 registry.nodeup.test" >>/etc/hosts
mkdir -p /var/lib/registry
"$IN/registry" serve "$IN/registry.yml" >/var/log/registry.log 2>&1 &
await 60 listening
check registry-up "$(okif listening)"

section "nodeup apply without a credential provider"
out=$(nodeup apply "$IN/without" --var-file "$IN/vars.hcl" 2>&1)
rc=$?
echo "$out"
check apply-without "$(okif [ $rc = 0 ])" "exit $rc"
[ $rc = 0 ] || { result; exit 1; }

section "push the test image"
ctr -n nodeup-push images import "$IN/hello.tar"
ctr -n nodeup-push images tag nodeup.test/busybox:1 "$IMAGE"
out=$(ctr -n nodeup-push images push --plain-http --user "$REGISTRY_USER:$REGISTRY_PASSWORD" "$IMAGE" 2>&1)
rc=$?
echo "$out" | tail -n 3
check push "$(okif [ $rc = 0 ])" "exit $rc"
ctr -n nodeup-push images rm "$IMAGE" nodeup.test/busybox:1 >/dev/null

section "a static pod from the registry, without the provider"
mkdir -p /etc/kubernetes/manifests
cat >/etc/kubernetes/manifests/hello.yaml <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: hello
  namespace: default
spec:
  containers:
  - name: hello
    image: $IMAGE
    imagePullPolicy: IfNotPresent
YAML
await 300 denied
check pull-fails-without "$(okif denied)" "$(cut -c1-400 /tmp/denied | tr '\n' ' ')"
check not-running-without "$(okif [ -z "$(crictl --runtime-endpoint $SOCK ps --name hello -q 2>/dev/null)" ])"

section "nodeup apply with the credential provider"
out=$(nodeup apply "$IN/with" --var-file "$IN/vars.hcl" 2>&1)
rc=$?
echo "$out"
check apply-with "$(okif [ $rc = 0 ])" "exit $rc"
cfg=/etc/kubernetes/image-credential-provider-config.yaml
check provider-config-0600 "$(okif [ "$(stat -c %a $cfg)" = 600 ])" "$(stat -c '%a %U' $cfg)"
check provider-installed "$(okif [ -x /usr/local/lib/nodeup/credential-providers/nodeup-test ])"
check provider-flags "$(okif grep -q -- "--image-credential-provider-config=$cfg" /proc/"$(systemctl show -P MainPID kubelet)"/cmdline)" \
  "$(tr '\0' ' ' </proc/"$(systemctl show -P MainPID kubelet)"/cmdline)"
sed '/PASSWORD/{n;s/value: .*/value: (the password)/}' $cfg

await 300 running
check pull-with-provider "$(okif running)"
check provider-asked "$(okif grep -q "${IMAGE%:*}" /var/log/nodeup-test-credprovider.log)" "$(cat /var/log/nodeup-test-credprovider.log 2>&1)"
crictl --runtime-endpoint $SOCK ps --name hello
out=$(crictl --runtime-endpoint $SOCK logs "$(crictl --runtime-endpoint $SOCK ps --name hello -q | head -n 1)" 2>&1)
echo "$out"
check pod-logs "$(okif grep -q 'hello from the verify pod' <<<"$out")"
journalctl -u kubelet -b --no-pager -o cat | grep -E "Pulled|pulled" | grep hello | tail -n 3

section "nodeup plan after the apply"
out=$(nodeup plan "$IN/with" --var-file "$IN/vars.hcl" --detailed-exitcode 2>&1)
rc=$?
echo "$out"
check plan-no-changes "$(okif [ $rc = 0 ])" "exit $rc"
result
