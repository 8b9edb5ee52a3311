package vm

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// firstBootTime bounds each of the first-boot test's three boots.
const firstBootTime = 15 * time.Minute

// TestFirstBootOnVM measures what an image built with nodeup costs at boot,
// next to a cold apply of the same profile (containerd, runc, the CNI
// plugins, crictl and the sandbox image, verified over CRI without a pod),
// on a real kernel:
//   - a fresh VM applies the profile cold (run-cold.sh): the cold apply's time;
//   - another fresh VM is built as an image is (run-bake.sh): nodeup and
//     nodeup-boot.service installed and enabled, `apply --phase bake`, which
//     starts nothing, and `cache clean`;
//   - that VM boots again (run-firstboot.sh): nodeup-boot.service starts and
//     verifies containerd and imports the staged image with no mirror, then a
//     verify and a plan of the kept profile pass;
//     the time from the kernel's start to the unit's end is the first boot's.
//
// It prints the three figures; it asserts what the node does, never a time.
func TestFirstBootOnVM(t *testing.T) {
	here, repo := prerequisites(t)
	work := t.TempDir()
	newFirstBootInput := func(name, script string) *input {
		in := newInput(t, here, repo, filepath.Join(work, "in-"+name), script, "firstboot.hcl")
		in.file(t, filepath.Join(here, "testdata/bridge.conflist"), "bridge.conflist", 0o644)
		in.file(t, filepath.Join(repo, "packaging/nodeup-boot.service"), "nodeup-boot.service", 0o644)
		in.artifacts(t, "containerd "+proofContainerd, "runc", "cni", "crictl")
		in.images(t, repo, "registry.k8s.io/pause:3.10")
		in.writeVars(t, "")
		return in
	}
	cold := bootWith(t, Boot{Input: newFirstBootInput("cold", "run-cold.sh").dir, Work: filepath.Join(work, "cold")},
		firstBootTime, "first-boot-cold", []string{"cold-apply", "cold-apply-verified"})
	image := filepath.Join(work, "image")
	bake := bootWith(t, Boot{Input: newFirstBootInput("bake", "run-bake.sh").dir, Work: image},
		firstBootTime, "first-boot-bake", []string{"bake", "bake-kept-profile", "bake-started-nothing", "bake-enabled-containerd", "bake-cache-clean", "bake-image-staged"})
	if t.Failed() {
		t.FailNow()
	}
	boot := bootWith(t, Boot{Input: newFirstBootInput("boot", "run-firstboot.sh").dir, Work: image, Again: true},
		firstBootTime, "first-boot", []string{"first-boot-unit", "first-boot-verified", "first-boot-containerd", "first-boot-verify", "first-boot-plan-no-changes"})

	figures := map[string]float64{}
	for _, r := range []Result{cold, bake, boot} {
		for k, v := range times(t, r.Log) {
			figures[k] = v
		}
	}
	t.Logf("first boot of a baked image, on this machine's TCG VM (2 vCPUs):\n%s", firstBootTable(figures))
}

// timeLine is a figure a guest script printed: "TIME NAME SECONDS".
var timeLine = regexp.MustCompile(`(?m)^TIME ([a-z-]+) ([0-9.]+)$`)

// times reads the figures of a guest's log; a missing or unreadable one
// fails the test, since the scripts print them whenever they ran.
func times(t *testing.T, log string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range timeLine.FindAllStringSubmatch(log, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Errorf("figure %s: %v", m[1], err)
			continue
		}
		out[m[1]] = v
	}
	return out
}

// firstBootTable lays the figures out in the order a reader compares them.
func firstBootTable(f map[string]float64) string {
	rows := []struct{ key, what string }{
		{"cold-apply", "cold apply on a fresh machine (install, start, verify)"},
		{"bake", "apply --phase bake in the image build (installs, starts nothing)"},
		{"first-boot-userspace", "first boot: kernel start to systemd"},
		{"first-boot-unit", "first boot: nodeup-boot.service's own run (start, verify)"},
		{"first-boot-verified", "first boot: kernel start to a verified containerd"},
	}
	var s string
	for _, r := range rows {
		v, ok := f[r.key]
		if !ok {
			s += fmt.Sprintf("  %-62s  %8s\n", r.what, "-")
			continue
		}
		s += fmt.Sprintf("  %-62s  %7.2fs\n", r.what, v)
	}
	return s
}
