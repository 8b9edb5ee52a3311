package vm

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// proofContainerd is the containerd the pod proof installs, and proofDrivers
// the cgroup drivers it runs under, in order.
const proofContainerd = "2.3.4"

var proofDrivers = []string{"systemd", "cgroupfs"}

// proofTime bounds the proof's boot: TCG is slow, and the guest runs two
// applies, each with its verification's pod, and a verify --pod of its own.
const proofTime = 30 * time.Minute

// TestPodProofOnVM proves on a real kernel that a node nodeup installs runs a
// pod, without the kubelet (which takes an hour to build here; TestPodsOnVM,
// behind the vm build tag, has it): on a fresh VM, nodeup applies a profile
// with containerd, runc with seccomp, crun (a runc-shim handler with its
// BinaryName), the CNI plugins with a bridge network, crictl and preloaded
// images, from the mirror on the input disk. Under the systemd and then the
// cgroupfs driver, apply's verification runs a pod per handler whose
// image's command exits at once: the container ran and exited 0, the pod's
// cgroup is the driver's under nodeup-verify, lo is up with a bridge address,
// the pod is removed and nothing is left; verify --pod on its own then does
// the same, and a plan changes nothing. The guest's part is
// guest/run-proof.sh; every check it makes is a "CHECK" line here. It runs in
// make e2e, and so in make test; make testbed builds what it boots.
func TestPodProofOnVM(t *testing.T) {
	here, repo := prerequisites(t)
	work := t.TempDir()
	in := newInput(t, here, repo, filepath.Join(work, "in"), "run-proof.sh", "proof.hcl")
	in.file(t, filepath.Join(here, "testdata/bridge.conflist"), "bridge.conflist", 0o644)
	in.artifacts(t, "containerd "+proofContainerd, "crun", "cni", "crictl")
	in.seccompRunc(t)
	in.images(t, repo, "registry.k8s.io/pause:3.10", "nodeup.test/exits:1")
	in.writeVars(t, fmt.Sprintf("PHASES=%q\n", strings.Join(proofDrivers, " ")))
	bootAndCheck(t, in, work, proofTime, "proof", proofChecks(proofDrivers))
}

// proofChecks are the CHECK lines run-proof.sh must print, all ok.
func proofChecks(drivers []string) []string {
	var out []string
	for _, d := range drivers {
		out = append(out, "apply-"+d)
		out = append(out, podChecks("verify-pod", d)...)
		out = append(out, podChecks("verify-pod-crun", d)...)
		out = append(out, "verify-pod-alone-"+d)
		out = append(out, podChecks("verify-pod-alone", d)...)
		out = append(out, podChecks("verify-pod-alone-crun", d)...)
		out = append(out, "plan-no-changes-"+d)
	}
	return out
}
