package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/tests/testbed"
)

// hostNodeup runs the nodeup binary on the host (for --root runs).
func hostNodeup(t *testing.T, bin string, args ...string) testbed.Result {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "nodeup"), args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	r := testbed.Result{Stdout: string(out), Code: cmd.ProcessState.ExitCode()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Stderr = string(ee.Stderr)
	} else if err != nil {
		r.Err = err
	}
	return r
}

// hostArgs point the demo profile at the mirror as the host sees it.
func hostArgs(t *testing.T, version string) []string {
	return []string{filepath.Join(profilesDir(t), "demo.hcl"), "--var-file", testbed.VarFile(t, version),
		"--var", "mirror_url=file://" + testbed.Mirror(t)}
}

// TestBakeThenBoot is an image build: --phase bake into the node's root
// while it is not running (no systemd, nothing started), then the node
// boots with containerd enabled and `--phase boot` verifies it.
func TestBakeThenBoot(t *testing.T) {
	bin := buildNodeup(t)
	n := testbed.Create(t, testbed.Options{Binds: []testbed.Bind{
		testbed.MirrorBind(t),
		{Host: bin, Node: nodeNodeupDir, ReadOnly: true},
		{Host: profilesDir(t), Node: nodeProfilesDir, ReadOnly: true},
	}})
	bake := append(hostArgs(t, "2.3.4"), "--phase", "bake", "--root", n.Root())
	r := hostNodeup(t, bin, append([]string{"apply"}, bake...)...)
	if r.Code != 0 {
		t.Fatalf("bake: %s", r)
	}
	t.Logf("bake:\n%s", r.Stdout)
	if !strings.Contains(r.Stdout, "systemd is not running here: starts at boot") {
		t.Errorf("bake did not enable containerd offline:\n%s", r.Stdout)
	}
	link, err := os.Readlink(n.Path("/etc/systemd/system/multi-user.target.wants/containerd.service"))
	if err != nil || link != "/etc/systemd/system/containerd.service" {
		t.Errorf("enable link: %q, %v", link, err)
	}
	for _, p := range []string{"/usr/local/bin/containerd", "/etc/containerd/config.toml", "/opt/kata/bin/containerd-shim-kata-v2"} {
		if _, err := os.Stat(n.Path(p)); err != nil {
			t.Errorf("bake did not install %s: %v", p, err)
		}
	}
	r = hostNodeup(t, bin, append([]string{"plan", "--detailed-exitcode"}, bake...)...)
	if r.Code != 0 {
		t.Errorf("plan after bake: want exit 0, got %s", r)
	}

	n.Start()
	// Enabled in the image, containerd starts with the node.
	if out := n.Run(t, "systemctl", "is-enabled", "containerd.service"); strings.TrimSpace(out) != "enabled" {
		t.Errorf("containerd is %q after boot", out)
	}
	args := []string{demoProfile, "--var-file", varFile("2.3.4")}
	r = n.Exec(append([]string{nodeNodeup, "apply", "--phase", "boot"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("boot: %s\n%s", r, n.Journal("containerd"))
	}
	t.Logf("boot:\n%s", r.Stdout)
	if !strings.Contains(r.Stdout, "handler kata-qemu") {
		t.Errorf("boot did not verify:\n%s", r.Stdout)
	}
	checkWithCrictl(t, n, "2.3.4", true)
	r = n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
	if r.Code != 0 {
		t.Errorf("plan after boot: want exit 0, got %s", r)
	}
}

// TestRootIntoPlainDirectory applies into a directory with no systemd and
// no node: files, binaries and enable links land under it, nothing starts.
// Only --phase bake may leave starting and verifying to the boot: an apply
// that should verify and cannot is an error, not an unverified success.
func TestRootIntoPlainDirectory(t *testing.T) {
	bin := buildNodeup(t)
	root := t.TempDir()
	args := append(hostArgs(t, "1.7.30"), "--root", root)
	// The plan predicts the apply: without --phase bake it fails as apply
	// would, and with it, it shows the changes.
	r := hostNodeup(t, bin, append([]string{"plan", "--detailed-exitcode"}, args...)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "apply would refuse this plan") || !strings.Contains(r.Stderr, "use --phase bake") {
		t.Fatalf("plan on an empty root without --phase bake: want exit 1 saying apply would refuse it, got %s", r)
	}
	r = hostNodeup(t, bin, append([]string{"plan", "--detailed-exitcode", "--phase", "bake"}, args...)...)
	if r.Code != 2 {
		t.Fatalf("plan --phase bake on an empty root: want exit 2, got %s", r)
	}
	r = hostNodeup(t, bin, append([]string{"apply"}, args...)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "use --phase bake") {
		t.Fatalf("apply --root without --phase bake: want exit 1 saying to use --phase bake, got %s", r)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("the refused apply wrote under the root: %v", entries)
	}
	args = append(args, "--phase", "bake")
	r = hostNodeup(t, bin, append([]string{"apply"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("apply --root: %s", r)
	}
	if !strings.Contains(r.Stdout, "0 failed") || strings.Contains(r.Stdout, "Verification:") {
		t.Errorf("apply --root should install and verify nothing:\n%s", r.Stdout)
	}
	out, err := exec.Command(filepath.Join(root, "usr/local/bin/containerd"), "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1.7.30") {
		t.Errorf("installed containerd --version: %s %v", out, err)
	}
	cfg, _ := os.ReadFile(filepath.Join(root, "etc/containerd/config.toml"))
	if !strings.Contains(string(cfg), "version = 2") || !strings.Contains(string(cfg), "SystemdCgroup = true") {
		t.Errorf("config.toml for 1.7:\n%s", cfg)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/containerd.service")); err != nil {
		t.Errorf("containerd not enabled under the root: %v", err)
	}
	r = hostNodeup(t, bin, append([]string{"apply"}, args...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Apply: 0 created, 0 updated") {
		t.Errorf("second apply --root changed something: %s", r)
	}
}

// TestPackageSource installs Debian's containerd and runc with apt inside
// the node (the node shares the host's network to reach the archive); the
// config, unit and verification still come from nodeup.
func TestPackageSource(t *testing.T) {
	bin := buildNodeup(t)
	n := testbed.Boot(t, testbed.Options{HostNetwork: true, Binds: []testbed.Bind{
		testbed.MirrorBind(t),
		{Host: bin, Node: nodeNodeupDir, ReadOnly: true},
	}})
	profile := `
variable "cni_sha256" {}
mirror {
  urls     = ["file:///srv/mirror"]
  upstream = false
}
containerd { source = "package" }
runc { source = "package" }
cni {
  version = "1.9.1"
  sha256  = var.cni_sha256
  plugins = ["loopback", "bridge", "host-local"]
}
verify { handlers = ["runc"] }
`
	if err := n.WriteFile("/srv/package.hcl", []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	cni, ok := testbed.ReadManifest(t).Find("cni", "1.9.1")
	if !ok {
		t.Fatal("the mirror has no CNI plugins 1.9.1")
	}
	cniSum := cni.SHA256
	args := []string{"/srv/package.hcl", "--var", "cni_sha256=" + cniSum}
	r := n.Exec(append([]string{nodeNodeup, "apply"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("apply with source = package: %s\n%s", r, n.Journal("containerd"))
	}
	t.Logf("apply:\n%s", r.Stdout)
	if !strings.Contains(r.Stdout, "+ package:containerd: create") {
		t.Errorf("containerd was not installed from the package:\n%s", r.Stdout)
	}
	ver := n.Run(t, "dpkg-query", "-W", "-f=${Version}", "containerd")
	out := n.Run(t, nodeCrictl, "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	if !strings.Contains(out, "RuntimeName:  containerd") || !strings.Contains(out, strings.Split(ver, "~")[0]) {
		t.Errorf("crictl version (package %s):\n%s", ver, out)
	}
	cfg := n.Run(t, "cat", "/etc/containerd/config.toml")
	if !strings.Contains(cfg, "SystemdCgroup = true") {
		t.Errorf("config.toml:\n%s", cfg)
	}
	pid := mainPID(t, n)
	r = n.Exec(append([]string{nodeNodeup, "apply"}, args...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Apply: 0 created, 0 updated") {
		t.Errorf("second apply: %s", r)
	}
	if again := mainPID(t, n); again != pid {
		t.Errorf("containerd restarted by the second apply: %s -> %s", pid, again)
	}
}
