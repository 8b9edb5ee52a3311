package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs one command line with an empty environment.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runEnv(t, nil, args...)
}

// runEnv runs one command line with the given environment and no input.
func runEnv(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, environ)
	return code, out.String(), errb.String()
}

func TestValidateShippedProfiles(t *testing.T) {
	files, _ := filepath.Glob("../profiles/*.hcl")
	for _, f := range files {
		if strings.HasSuffix(f, "demo.hcl") {
			continue // needs the test bed's variables
		}
		code, out, errs := run(t, "validate", f)
		if code != 0 || !strings.Contains(out, "valid") {
			t.Errorf("validate %s: exit %d\n%s%s", f, code, out, errs)
		}
	}
}

func TestValidateReportsEveryErrorWithPosition(t *testing.T) {
	f := "../plan/testdata/invalid/many_errors.hcl"
	code, _, errs := run(t, "validate", f)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{f + ":7:19: Error: Invalid cgroup driver", f + ":10:13: Error: Version not pinned",
		f + ":13:13: Error: Malformed sha256", f + ":17:1: Error: kata runtime without kata", `   7:   cgroup_driver = "both"`, "4 error(s)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestRenderWritesTheFilesOfTheNode(t *testing.T) {
	out := t.TempDir()
	code, stdout, errs := run(t, "render", "../profiles/kata.hcl", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, p := range []string{"etc/containerd/config.toml", "etc/systemd/system/containerd.service", "etc/kubernetes/kubelet.conf.d/50-nodeup.conf",
		"etc/crictl.yaml", "etc/modules-load.d/nodeup.conf", "etc/sysctl.d/99-nodeup.conf", "etc/nodeup/runtimeclasses.yaml"} {
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v", p, err)
		}
		if !strings.Contains(stdout, p) {
			t.Errorf("render did not list %s", p)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(out, "etc/containerd/config.toml"))
	if !strings.Contains(string(cfg), "SystemdCgroup = true") || !strings.Contains(string(cfg), "kata-qemu") {
		t.Errorf("config.toml:\n%s", cfg)
	}
}

func TestGraphFormats(t *testing.T) {
	code, out, _ := run(t, "graph", "../profiles/default.hcl", "--format", "dot")
	if code != 0 || !strings.Contains(out, `"unit:containerd.service" -> "verify:cri";`) {
		t.Errorf("dot: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "graph", "../profiles/default.hcl")
	if code != 0 || !strings.Contains(out, "artifact:containerd\n  containerd 2.3.4") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	if code, _, errs := run(t, "graph", "../profiles/default.hcl", "--format", "svg"); code != 1 || !strings.Contains(errs, "use text or dot") {
		t.Errorf("bad format: exit %d %s", code, errs)
	}
}

func TestVarFlags(t *testing.T) {
	code, _, errs := run(t, "validate", "../profiles/kubelet.hcl", "--var", "kubelet_version=1.99.0")
	if code != 1 || !strings.Contains(errs, "kubelet 1.99.0 (amd64) is not in nodeup's pin table") {
		t.Errorf("exit %d: %s", code, errs)
	}
	code, _, errs = run(t, "validate", "../profiles/default.hcl", "--var", "nope=1")
	if code != 1 || !strings.Contains(errs, `declares no variable "nope"`) {
		t.Errorf("exit %d: %s", code, errs)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "nodeup ") {
		t.Errorf("exit %d: %q", code, out)
	}
}

// render writes like apply --root: no link in --out is written through
// or leads out of it, and "" or / is refused.
func TestRenderWritesOnlyInsideOut(t *testing.T) {
	out, outside := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(out, "etc"), 0o755)
	os.Symlink(outside, filepath.Join(out, "etc/containerd"))
	os.Symlink(filepath.Join(outside, "victim"), filepath.Join(out, "etc/crictl.yaml"))
	if code, _, errs := run(t, "render", "../profiles/kata.hcl", "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if es, _ := os.ReadDir(outside); len(es) != 0 {
		t.Errorf("render wrote outside --out: %v", es)
	}
	if fi, err := os.Lstat(filepath.Join(out, "etc/crictl.yaml")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("a link in a file's place was written through: %v %v", fi, err)
	}
	for _, dir := range []string{"", "/"} {
		if code, _, errs := run(t, "render", "../profiles/kata.hcl", "--out", dir); code != 1 || !strings.Contains(errs, "render --out: ") {
			t.Errorf("--out %q: exit %d %s", dir, code, errs)
		}
	}
}
