//go:build vm

package vm

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/tests/testbed"
)

// Versions the VM test installs beside the test bed's: the kubelet built
// from the Go module proxy (build-kubelet.sh), and runc with seccomp
// (build-runc.sh).
const (
	kubeletVersion = "1.37.2"
	runcVersion    = "1.4.3"
	// vmTime bounds one boot: TCG is slow, and the guest runs two drivers.
	vmTime = 50 * time.Minute
)

// The images the VM test preloads: the sandbox image, a busybox whose shell
// loop stands in for the pause process, the static pods' image, and the
// verification pod's, whose default command (busybox's sh, with no input)
// ends at once, as busybox's and alpine's images do.
var testImages = []struct {
	name, shaVar string // the reference, and the profile variable of its archive's sha256
	entrypoint   []string
}{
	{"registry.k8s.io/pause:3.10", "pause_sha256", []string{"/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"}},
	{"nodeup.test/busybox:1", "busybox_sha256", []string{"/bin/sh", "-c", "echo hello from the verify pod; while :; do sleep 3600 & wait $!; done"}},
	{"nodeup.test/exits:1", "exits_sha256", []string{"/bin/sh"}},
}

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
	if os.Geteuid() != 0 {
		t.Fatalf("the VM test builds disk images and boots qemu as root; uid is %d (run sudo make e2e-vm)", os.Geteuid())
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(here, "..", "..")
	step(t, "install qemu and the image tools", filepath.Join(here, "install-deps.sh"))
	step(t, "test bed mirror", filepath.Join(repo, "tests/testbed/build-mirror.sh"))
	step(t, "VM image", filepath.Join(here, "build-image.sh"))
	step(t, "kubelet "+kubeletVersion, filepath.Join(here, "build-kubelet.sh"), kubeletVersion)
	step(t, "runc "+runcVersion+" with seccomp", filepath.Join(here, "build-runc.sh"), runcVersion)

	// What every run's input disk holds besides containerd: nodeup, the
	// test, the profile, and a mirror of the rest.
	common := t.TempDir()
	mirror := filepath.Join(common, "mirror")
	vars := map[string]string{}
	step(t, "nodeup", "env", "CGO_ENABLED=0", "go", "build", "-C", repo, "-trimpath", "-o", filepath.Join(common, "nodeup"), "./cmd/nodeup")
	copyFile(t, filepath.Join(here, "guest/run-pod.sh"), filepath.Join(common, "run.sh"), 0o755)
	copyFile(t, filepath.Join(here, "testdata/pod.hcl"), filepath.Join(common, "profile.hcl"), 0o644)
	copyFile(t, filepath.Join(here, "testdata/bridge.conflist"), filepath.Join(common, "bridge.conflist"), 0o644)
	copyFile(t, filepath.Join(here, "testdata/hello.yaml"), filepath.Join(common, "hello.yaml"), 0o644)
	for _, a := range testbedArtifacts(t, "cni", "crictl") {
		copyFile(t, filepath.Join(testbed.Cache(), "mirror", a.path), filepath.Join(mirror, a.path), 0o644)
		vars[a.component+"_version"] = a.version
		vars[a.component+"_sha256"] = a.sha256
	}
	// The kubelet, and a runc with seccomp (the kubelet asks for the
	// runtime's default seccomp profile for every pod sandbox), published
	// where their upstream releases would be.
	for _, b := range []struct{ component, version, bin string }{
		{pins.Kubelet, kubeletVersion, filepath.Join(testbed.Cache(), "bin", "kubelet-"+kubeletVersion, "kubelet")},
		{pins.Runc, runcVersion, filepath.Join(testbed.Cache(), "bin", "runc-seccomp-"+runcVersion, "runc")},
	} {
		copyFile(t, b.bin, filepath.Join(mirror, mirrorPath(t, pins.Builtin().UpstreamURL(b.component, b.version, "amd64"))), 0o644)
		vars[b.component+"_version"] = b.version
		vars[b.component+"_sha256"] = fileSHA(t, b.bin)
	}
	for _, im := range testImages {
		ref, err := images.Normalize(im.name)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(mirror, images.MirrorPath(ref))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"run", "-C", repo, "./tests/vm/mkimage", "-busybox", "/bin/busybox", "-name", im.name, "-o", dst, "--"}, im.entrypoint...)
		step(t, "image "+im.name, "go", args...)
		vars[im.shaVar] = fileSHA(t, dst)
	}

	for _, v := range variants {
		t.Run("containerd-"+v.containerd, func(t *testing.T) {
			work := t.TempDir()
			in := filepath.Join(work, "in")
			copyTree(t, common, in)
			runVars := maps.Clone(vars)
			c := testbedArtifacts(t, "containerd "+v.containerd)[0]
			copyFile(t, filepath.Join(testbed.Cache(), "mirror", c.path), filepath.Join(in, "mirror", c.path), 0o644)
			runVars["containerd_version"], runVars["containerd_sha256"] = c.version, c.sha256
			writeVars(t, filepath.Join(in, "vars.hcl"), runVars)
			drift := "0"
			if v.drift {
				drift = "1"
			}
			env := fmt.Sprintf("PHASES=%q\nDRIFT=%s\n", strings.Join(v.phases, " "), drift)
			if v.upgradeTo != "" {
				u := testbedArtifacts(t, "containerd "+v.upgradeTo)[0]
				copyFile(t, filepath.Join(testbed.Cache(), "mirror", u.path), filepath.Join(in, "mirror", u.path), 0o644)
				env += fmt.Sprintf("UPGRADE_TO=%s\nUPGRADE_SHA256=%s\n", u.version, u.sha256)
			}
			if err := os.WriteFile(filepath.Join(in, "env"), []byte(env), 0o644); err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), vmTime)
			defer cancel()
			t.Logf("booting the VM (TCG; about a minute to boot, then the test; its console follows)")
			res, err := Boot{Image: CachedImage(), Input: in, Work: work, Console: prefixed(os.Stdout, "vm| ")}.Run(ctx)
			t.Logf("the VM ran %s", res.Elapsed.Round(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			checks := parseChecks(res.Log)
			for _, name := range expectedChecks(v.phases, v.drift, v.upgradeTo != "") {
				c, ok := checks[name]
				switch {
				case !ok:
					t.Errorf("check %s did not run", name)
				case c != "ok":
					t.Errorf("check %s: %s", name, c)
				}
			}
			if res.Status != 0 {
				t.Errorf("run.sh exited %d", res.Status)
			}
			if t.Failed() {
				journal := filepath.Join(os.TempDir(), "nodeup-vm-journal-"+v.containerd+".txt")
				os.WriteFile(journal, []byte(res.Journal), 0o644)
				t.Logf("the guest's journal is in %s", journal)
			}
		})
	}
}

// expectedChecks are the CHECK lines run-pod.sh must print, all ok.
func expectedChecks(phases []string, drift, upgrade bool) []string {
	var out []string
	for _, d := range phases {
		for _, c := range []string{"apply", "verify-pod-cgroup", "verify-pod-network", "verify-pod-cleanup", "verify-pod-nothing-left",
			"kubelet-active", "verify-pod-kubelet", "verify-pod-kubelet-skips", "static-pod-running", "static-pod-cgroup", "static-pod-log", "static-pod-lo", "static-pod-address", "static-pod-removed",
			"verify-pod-alone", "verify-pod-alone-cgroup", "verify-pod-alone-network", "verify-pod-alone-nothing-left", "kubelet-restarted",
			"plan-no-changes"} {
			out = append(out, c+"-"+d)
		}
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

var checkLine = regexp.MustCompile(`^CHECK ([a-z0-9-]+): (ok|FAIL)(.*)$`)

// parseChecks maps each check's name to "ok" or "FAIL <detail>".
func parseChecks(log string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := checkLine.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = strings.TrimSpace(m[2] + m[3])
			if m[2] == "ok" {
				out[m[1]] = "ok"
			}
		}
	}
	return out
}

type artifact struct{ component, version, path, sha256 string }

// testbedArtifacts reads the test bed mirror's manifest for the artifacts
// named "component" (the only version it has) or "component version".
func testbedArtifacts(t *testing.T, names ...string) []artifact {
	data, err := os.ReadFile(filepath.Join(testbed.Cache(), "mirror", "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []artifact
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Split(line, "\t")
		if len(f) < 5 {
			continue
		}
		a := artifact{component: f[0], version: f[1], path: f[3], sha256: f[4]}
		if slices.Contains(names, a.component) || slices.Contains(names, a.component+" "+a.version) {
			out = append(out, a)
		}
	}
	if len(out) != len(names) {
		t.Fatalf("the test bed mirror lacks some of %v: found %+v", names, out)
	}
	return out
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

func mirrorPath(t *testing.T, upstream string) string {
	_, rest, ok := strings.Cut(upstream, "://")
	if !ok {
		t.Fatalf("upstream URL %q", upstream)
	}
	return rest
}

func writeVars(t *testing.T, path string, vars map[string]string) {
	var b strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&b, "%s = %q\n", k, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func step(t *testing.T, what, name string, args ...string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
	t.Logf("%s: ready (%s)", what, time.Since(start).Round(time.Second))
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

func fileSHA(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return digest.Bytes(data)
}

// prefixed writes each line to w with a prefix, so the console reads apart
// from the test's own lines.
func prefixed(w io.Writer, prefix string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(w, "%s%s\n", prefix, sc.Text())
		}
	}()
	return pw
}
