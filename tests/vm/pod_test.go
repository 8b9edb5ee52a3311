//go:build vm

package vm

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/tests/testbed"
)

// The kubelet the VM test installs, built from the Go module proxy
// (build-kube.sh).
const (
	kubeletVersion = "1.37.2"
	// vmTime bounds one boot: TCG is slow, and the guest runs two drivers.
	vmTime = 50 * time.Minute
)

// The runs of the VM test: one boot each. containerd 2.x (config schema 4)
// under both cgroup drivers and with a hand-edited SystemdCgroup; containerd
// 1.7 (schema 2) under the systemd driver.
var variants = []struct {
	containerd string
	phases     []string // cgroup drivers, in order
	drift      bool
	upgradeTo  string // a containerd the node moves to in place with a pod running
}{
	{"2.3.4", []string{"systemd", "cgroupfs"}, true, ""},
	{"1.7.30", []string{"systemd"}, false, "2.3.4"},
}

// TestPodsOnVM is the test of a node that runs pods: on a fresh VM, nodeup
// applies a profile with containerd, runc, the CNI plugins and a bridge
// network, crictl, a standalone kubelet and preloaded images; its
// verification runs a pod before the kubelet starts; the kubelet runs a
// static pod in the driver's cgroup with loopback up and a bridge address,
// and removes it with its manifest; with the kubelet stopped, verify --pod
// passes on its own; a plan then changes nothing. Under the
// systemd and then the cgroupfs driver; and an edited SystemdCgroup makes
// verify --pod fail saying so and plan show the drift. Then a node on
// containerd 1.7 with a static pod running is upgraded in place to 2.3: one
// restart, the pod's process survives it, and the kubelet still manages the
// pod (it removes it with its manifest). The guest's part is
// guest/run-pod.sh; every check it makes is a "CHECK" line here.
func TestPodsOnVM(t *testing.T) {
	here, repo := prerequisites(t)
	step(t, "kubelet "+kubeletVersion, filepath.Join(here, "build-kube.sh"), kubeletVersion, "kubelet")

	// What every run's input disk holds besides containerd: nodeup, the
	// test, the profile, and a mirror of the rest.
	common := newInput(t, here, repo, t.TempDir(), "run-pod.sh", "pod.hcl")
	common.file(t, filepath.Join(here, "testdata/bridge.conflist"), "bridge.conflist", 0o644)
	common.file(t, filepath.Join(here, "testdata/hello.yaml"), "hello.yaml", 0o644)
	common.artifacts(t, "cni", "crictl")
	// The kubelet and the runc with seccomp, published where their upstream
	// releases would be.
	common.binary(t, pins.Kubelet, kubeletVersion, filepath.Join(testbed.Cache(), "bin", "kubernetes-"+kubeletVersion, "kubelet"),
		pins.Builtin().UpstreamURL(pins.Kubelet, kubeletVersion, "amd64"))
	common.seccompRunc(t)
	common.images(t, repo, "registry.k8s.io/pause:3.10", "nodeup.test/busybox:1", "nodeup.test/exits:1")

	for _, v := range variants {
		t.Run("containerd-"+v.containerd, func(t *testing.T) {
			work := t.TempDir()
			in := common.clone(t, filepath.Join(work, "in"))
			in.artifacts(t, "containerd "+v.containerd)
			drift := "0"
			if v.drift {
				drift = "1"
			}
			env := fmt.Sprintf("PHASES=%q\nDRIFT=%s\n", strings.Join(v.phases, " "), drift)
			if v.upgradeTo != "" {
				u := testbedArtifacts(t, "containerd "+v.upgradeTo)[0]
				in.mirror(t, u)
				env += fmt.Sprintf("UPGRADE_TO=%s\nUPGRADE_SHA256=%s\n", u.version, u.sha256)
			}
			in.writeVars(t, env)
			bootAndCheck(t, in, work, vmTime, "pods-"+v.containerd, expectedChecks(v.phases, v.drift, v.upgradeTo != ""))
		})
	}
}

// expectedChecks are the CHECK lines run-pod.sh must print, all ok.
func expectedChecks(phases []string, drift, upgrade bool) []string {
	var out []string
	for _, d := range phases {
		out = append(out, "apply-"+d)
		out = append(out, podChecks("verify-pod", d)...)
		for _, c := range []string{"kubelet-active", "verify-pod-kubelet", "verify-pod-kubelet-skips",
			"static-pod-running", "static-pod-cgroup", "static-pod-log", "static-pod-lo", "static-pod-address", "static-pod-removed",
			"verify-pod-alone"} {
			out = append(out, c+"-"+d)
		}
		out = append(out, podChecks("verify-pod-alone", d)...)
		out = append(out, "kubelet-restarted-"+d, "plan-no-changes-"+d)
	}
	if upgrade {
		out = append(out, "upgrade-pod-before", "upgrade-apply", "upgrade-version", "upgrade-config-schema", "upgrade-one-restart",
			"upgrade-pod-process-survives", "upgrade-pod-same-container", "upgrade-pod-running", "upgrade-sandbox-ready",
			"upgrade-pod-not-restarted", "upgrade-kubelet-removes-pod")
	}
	if drift {
		out = append(out, "drift-verify-fails", "drift-verify-says-which", "drift-plan-changes", "drift-plan-shows-config")
	}
	return out
}

// clone copies the input to dir, for one run's own additions.
func (in *input) clone(t *testing.T, dir string) *input {
	t.Helper()
	copyTree(t, in.dir, dir)
	return &input{dir: dir, vars: maps.Clone(in.vars)}
}

// copyTree copies a directory of regular files.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		copyFile(t, p, filepath.Join(to, rel), fi.Mode().Perm())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
