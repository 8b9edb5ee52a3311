package vm

import (
	"bufio"
	"context"
	"fmt"
	"io"
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

// The harness the VM tests share (TestPodProofOnVM, and TestPodsOnVM behind
// the vm build tag): the prerequisites, an input disk's contents, and a boot
// whose CHECK lines are asserted.

// The images the VM tests preload: the sandbox image, a busybox whose shell
// loop stands in for the pause process, the static pods' image, and the
// verification pod's, whose default command (busybox's sh, with no input)
// ends at once, as busybox's and alpine's images do.
var testImages = []testImage{
	{"registry.k8s.io/pause:3.10", "pause_sha256", []string{"/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"}},
	{"nodeup.test/busybox:1", "busybox_sha256", []string{"/bin/sh", "-c", "echo hello from the verify pod; while :; do sleep 3600 & wait $!; done"}},
	{"nodeup.test/exits:1", "exits_sha256", []string{"/bin/sh"}},
}

type testImage struct {
	name, shaVar string // the reference, and the profile variable of its archive's sha256
	entrypoint   []string
}

// prerequisites fails the test unless it runs as root, and installs or builds
// what is missing of qemu and the image tools, the test bed mirror, the VM
// image and the runc with seccomp (make testbed builds them beforehand; here
// they are quick checks). It returns this package's directory and the
// repository's.
func prerequisites(t *testing.T) (here, repo string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("the VM tests build disk images and boot qemu as root; uid is %d (run sudo make e2e)", os.Geteuid())
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo = filepath.Join(here, "..", "..")
	step(t, "install qemu and the image tools", filepath.Join(here, "install-deps.sh"))
	step(t, "test bed mirror", filepath.Join(repo, "tests/testbed/build-mirror.sh"))
	step(t, "VM image", filepath.Join(here, "build-image.sh"))
	step(t, "runc with seccomp", filepath.Join(here, "build-runc.sh"))
	return here, repo
}

// input is an input disk's directory as it is filled, and the profile's
// variables that go with it (vars.hcl, written by writeVars).
type input struct {
	dir  string
	vars map[string]string
}

// newInput starts an input disk in dir with nodeup, the guest's helpers
// (lib.sh), its script as run.sh and the profile as profile.hcl (none when
// profile is empty).
func newInput(t *testing.T, here, repo, dir, script, profile string) *input {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	step(t, "nodeup", "env", "CGO_ENABLED=0", "go", "build", "-C", repo, "-trimpath", "-o", filepath.Join(dir, "nodeup"), "./cmd/nodeup")
	in := &input{dir: dir, vars: map[string]string{}}
	in.file(t, filepath.Join(here, "guest/lib.sh"), "lib.sh", 0o644)
	in.file(t, filepath.Join(here, "guest", script), "run.sh", 0o755)
	if profile != "" {
		in.file(t, filepath.Join(here, "testdata", profile), "profile.hcl", 0o644)
	}
	return in
}

func (in *input) file(t *testing.T, from, name string, mode os.FileMode) {
	t.Helper()
	copyFile(t, from, filepath.Join(in.dir, name), mode)
}

// mirror puts the test bed mirror's artifact into the input's mirror.
func (in *input) mirror(t *testing.T, a artifact) {
	t.Helper()
	copyFile(t, filepath.Join(testbed.Cache(), "mirror", a.path), filepath.Join(in.dir, "mirror", a.path), 0o644)
}

// artifacts mirrors the test bed's artifacts named (as testbedArtifacts
// takes them) and sets their component's version and sha256 variables.
func (in *input) artifacts(t *testing.T, names ...string) {
	t.Helper()
	for _, a := range testbedArtifacts(t, names...) {
		in.mirror(t, a)
		in.vars[a.component+"_version"] = a.version
		in.vars[a.component+"_sha256"] = a.sha256
	}
}

// binary publishes a binary where its upstream release would be, and sets
// its component's variables.
func (in *input) binary(t *testing.T, component, version, bin, upstream string) {
	t.Helper()
	copyFile(t, bin, filepath.Join(in.dir, "mirror", mirrorPath(t, upstream)), 0o644)
	in.vars[component+"_version"] = version
	in.vars[component+"_sha256"] = fileSHA(t, bin)
}

// seccompRunc publishes the test bed mirror's runc version built with
// seccomp (build-runc.sh), as upstream's releases are, where its release
// would be, and sets runc's variables. The mirror's own runc has no seccomp,
// which its container nodes never need; but the kubelet asks for the
// runtime's default seccomp profile for every pod sandbox, and so does
// nodeup's verification pod, and such a runc refuses it.
func (in *input) seccompRunc(t *testing.T) {
	t.Helper()
	v := testbedArtifacts(t, "runc")[0].version
	in.binary(t, pins.Runc, v, filepath.Join(testbed.Cache(), "bin", "runc-seccomp-"+v, "runc"),
		pins.Builtin().UpstreamURL(pins.Runc, v, "amd64"))
}

// images writes the named testImages into the mirror and sets their sha256
// variables.
func (in *input) images(t *testing.T, repo string, names ...string) {
	t.Helper()
	for _, name := range names {
		i := slices.IndexFunc(testImages, func(im testImage) bool { return im.name == name })
		if i < 0 {
			t.Fatalf("no test image %s", name)
		}
		in.image(t, repo, testImages[i])
	}
}

// image writes im into the mirror, with the files add names (mkimage's
// -add FILE=PATH) beside busybox, and sets its sha256 variable.
func (in *input) image(t *testing.T, repo string, im testImage, add ...string) {
	t.Helper()
	ref, err := images.Normalize(im.name)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(in.dir, "mirror", images.MirrorPath(ref))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "-C", repo, "./tests/vm/mkimage", "-busybox", "/bin/busybox", "-name", im.name, "-o", dst}
	for _, a := range add {
		args = append(args, "-add", a)
	}
	args = append(append(args, "--"), im.entrypoint...)
	step(t, "image "+im.name, "go", args...)
	in.vars[im.shaVar] = fileSHA(t, dst)
}

// writeVars writes the variables to vars.hcl and env (the guest's shell
// variables, may be empty) to env.
func (in *input) writeVars(t *testing.T, env string) {
	t.Helper()
	writeVars(t, filepath.Join(in.dir, "vars.hcl"), in.vars)
	if err := os.WriteFile(filepath.Join(in.dir, "env"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
}

// bootAndCheck boots the cached image with the input disk in (its scratch in
// work) within limit, with the console on stdout, and asserts that run.sh
// printed each of the expected CHECK lines as ok and exited 0. On a failure
// the guest's journal is left in the temp dir, named after the run.
func bootAndCheck(t *testing.T, in *input, work string, limit time.Duration, run string, expected []string) Result {
	t.Helper()
	return bootWith(t, Boot{Input: in.dir, Work: work}, limit, run, expected)
}

// bootWith is bootAndCheck for a boot with settings of its own (memory, a
// network, a second boot of the same disk); it returns what the boot
// brought back, for the figures run.sh printed.
func bootWith(t *testing.T, b Boot, limit time.Duration, run string, expected []string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	b.Image, b.Console = CachedImage(), prefixed(os.Stdout, "vm| ")
	t.Logf("booting the VM for %s (TCG; about a minute to boot, then the test; its console follows)", run)
	res, err := b.Run(ctx)
	t.Logf("the VM ran %s", res.Elapsed.Round(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	checks := parseChecks(res.Log)
	for _, name := range expected {
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
		journal := filepath.Join(os.TempDir(), "nodeup-vm-journal-"+run+".txt")
		if err := os.WriteFile(journal, []byte(res.Journal), 0o644); err != nil {
			t.Logf("the guest's journal: %v", err)
			return res
		}
		t.Logf("the guest's journal is in %s", journal)
	}
	return res
}

// podChecks are the checks guest/lib.sh's pod_checks makes of a
// verification's pod under a driver: its container ran its command, its
// cgroup, its network, its removal, and nothing left.
func podChecks(name, driver string) []string {
	var out []string
	for _, c := range []string{"exits", "cgroup", "network", "cleanup", "nothing-left"} {
		out = append(out, name+"-"+c+"-"+driver)
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
