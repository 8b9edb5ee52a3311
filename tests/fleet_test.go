package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/tests/testbed"
)

// demoValues are the values of the demo profile for the test bed's mirror,
// as the host sees it.
func demoValues(t *testing.T) []string {
	return []string{"--var-file", testbed.VarFile(t, "2.3.4"), "--var", "mirror_url=file://" + testbed.Mirror(t)}
}

func hostCommand(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// verifiedChecks are the checks a verified demo node passes.
var verifiedChecks = []string{"version", "runtime-ready", "handler runc", "handler kata-qemu", "cni bridge"}

func requireVerified(t *testing.T, what, out string) {
	t.Helper()
	for _, check := range verifiedChecks {
		if !regexp.MustCompile(`(?m)^\s*ok\s+` + regexp.QuoteMeta(check) + `\b`).MatchString(out) {
			t.Errorf("%s: no passing %q check:\n%s", what, check, out)
		}
	}
}

// TestBundleAirGappedFromTar builds a bundle tar of the demo profile on the
// host, verifies it, and hands the one file to a node that has no network,
// no mirror and no nodeup: the nodeup, the profile and every artifact come
// out of the tar, which is the node's only mirror.
func TestBundleAirGappedFromTar(t *testing.T) {
	bin := buildNodeup(t)
	dir := t.TempDir()
	tarFile := filepath.Join(dir, "bundle.tar")
	args := append([]string{"bundle", filepath.Join(profilesDir(t), "demo.hcl"), "-o", tarFile, "--cache", t.TempDir()}, demoValues(t)...)
	r := hostNodeup(t, bin, args...)
	if r.Code != 0 {
		t.Fatalf("bundle: %s", r)
	}
	t.Logf("nodeup bundle:\n%s%s", r.Stdout, r.Stderr)
	for _, want := range []string{"5 artifacts for amd64, the profile (2 files), nodeup for 1 of 1 architectures", "  nodeup/nodeup-linux-amd64 (", "  profile/nodeup.auto.vars.hcl ("} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("bundle output lacks %q", want)
		}
	}
	r = hostNodeup(t, bin, "bundle", "verify", tarFile)
	if r.Code != 0 {
		t.Fatalf("bundle verify: %s", r)
	}
	t.Logf("nodeup bundle verify:\n%s", r.Stdout)

	n := testbed.Boot(t, testbed.Options{Binds: []testbed.Bind{{Host: dir, Node: "/srv/bundle", ReadOnly: true}}})
	if out := n.Run(t, "ip", "-o", "link"); strings.Contains(out, "eth") || strings.Contains(out, "host0") {
		t.Fatalf("the node has a network:\n%s", out)
	}
	n.Run(t, "mkdir", "/root/bundle")
	n.Run(t, "tar", "-xf", "/srv/bundle/bundle.tar", "-C", "/root/bundle", "nodeup", "profile")
	nodeup := "/root/bundle/nodeup/nodeup-linux-amd64"
	if r := n.Exec(nodeup, "bundle", "verify", "/srv/bundle/bundle.tar"); r.Code != 0 {
		t.Errorf("bundle verify on the node: %s", r)
	}
	// The profile's values came along; only the mirror is new.
	r = n.Exec(nodeup, "apply", "/root/bundle/profile", "--var", "mirror_url=file:///srv/bundle/bundle.tar")
	if r.Code != 0 {
		t.Fatalf("air-gapped apply from the tar: %s\n%s", r, n.Journal("containerd"))
	}
	t.Logf("air-gapped apply:\n%s", r.Stdout)
	requireVerified(t, "air-gapped apply", r.Stdout)
	out := n.Run(t, "crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	if !strings.Contains(out, "RuntimeName:  containerd") || !strings.Contains(out, "2.3.4") {
		t.Errorf("crictl version:\n%s", out)
	}
}

// installBootUnit puts nodeup and nodeup-boot.service into a node that has
// not booted yet, as an image build does, and enables the unit offline.
func installBootUnit(t *testing.T, n *testbed.Node, bin string) {
	t.Helper()
	if err := n.CopyIn(filepath.Join(bin, "nodeup"), "/usr/local/bin/nodeup"); err != nil {
		t.Fatal(err)
	}
	if err := n.CopyIn("../packaging/nodeup-boot.service", "/etc/systemd/system/nodeup-boot.service"); err != nil {
		t.Fatal(err)
	}
	if out, err := hostCommand(t, "systemctl", "--root="+n.Root(), "enable", "nodeup-boot.service"); err != nil {
		t.Fatalf("systemctl --root enable: %v\n%s", err, out)
	}
}

// TestBakeThenBootUnit is an image build end to end: nodeup and its boot
// unit go into a root, `apply --phase bake --root` installs the demo
// profile with required values given on the command line, `cache clean`
// empties the download cache, and the node boots with no mirror and no
// flags: nodeup-boot.service applies the kept profile with the kept values,
// starts containerd and verifies it.
func TestBakeThenBootUnit(t *testing.T) {
	bin := buildNodeup(t)
	n := testbed.Create(t, testbed.Options{BootTimeout: 30 * time.Minute})
	installBootUnit(t, n, bin)

	bake := append([]string{"apply", filepath.Join(profilesDir(t), "demo.hcl"), "--phase", "bake", "--root", n.Root()}, demoValues(t)...)
	r := hostNodeup(t, bin, bake...)
	if r.Code != 0 {
		t.Fatalf("bake: %s", r)
	}
	t.Logf("bake:\n%s", r.Stdout)
	if !strings.Contains(r.Stdout, "Profile kept in /etc/nodeup/profile.d, with the values given now in /etc/nodeup/profile.d/nodeup.auto.vars.hcl") {
		t.Errorf("bake did not keep the profile:\n%s", r.Stdout)
	}
	r = hostNodeup(t, bin, "cache", "clean", "--root", n.Root())
	if r.Code != 0 || !strings.Contains(r.Stdout, "removed 5 files") {
		t.Errorf("cache clean: %s", r)
	}
	t.Logf("cache clean: %s", r.Stdout)

	// The boot waits for nodeup-boot.service: it is part of multi-user.target.
	n.Start()
	state := n.Run(t, "systemctl", "show", "-p", "ActiveState", "-p", "Result", "nodeup-boot.service")
	journal := n.Run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "nodeup-boot.service")
	t.Logf("nodeup-boot.service:\n%s\n%s", state, journal)
	if !strings.Contains(state, "ActiveState=active") || !strings.Contains(state, "Result=success") {
		t.Fatalf("nodeup-boot.service: %s\n%s", state, journal)
	}
	requireVerified(t, "nodeup-boot.service", journal)
	if out := n.Run(t, "systemctl", "is-active", "containerd.service"); strings.TrimSpace(out) != "active" {
		t.Errorf("containerd is %q", out)
	}
	out := n.Run(t, "crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	if !strings.Contains(out, "RuntimeName:  containerd") || !strings.Contains(out, "2.3.4") {
		t.Errorf("crictl version:\n%s", out)
	}
	// The boot unit and a second apply meet on the lock: --wait queues.
	r = n.Exec("nodeup", "apply", "/etc/nodeup/profile.d", "--phase", "boot", "--wait")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Apply: 0 created, 0 updated") {
		t.Errorf("apply of the kept profile after boot: %s", r)
	}
	// The kept profile is nodeup's: a reset takes it off with the rest.
	r = n.Exec("nodeup", "reset", "--yes")
	t.Logf("nodeup reset --yes:\n%s", r.Stdout)
	if r.Code != 0 || !strings.Contains(r.Stdout, "/etc/nodeup/profile.d/nodeup.auto.vars.hcl") {
		t.Errorf("reset: %s", r)
	}
	if r := n.Exec("test", "-e", "/etc/nodeup/profile.d"); r.Code == 0 {
		t.Errorf("the kept profile is still there after a reset:\n%s", n.Run(t, "ls", "-lR", "/etc/nodeup"))
	}
}

// TestCloudInitSchema hands nodeup's user data to the real cloud-init: its
// schema accepts the cloud-config, and its own user data processor unpacks
// the gzipped multipart form into the same cloud-config and a script.
func TestCloudInitSchema(t *testing.T) {
	testbed.InstallDeps(t)
	bin := buildNodeup(t)
	dir := t.TempDir()
	sum := strings.Repeat("0123456789abcdef", 4)
	args := append([]string{"cloud-init", filepath.Join(profilesDir(t), "demo.hcl"), "--nodeup-url", "https://downloads.internal/nodeup-{arch}", "--nodeup-sha256", sum}, demoValues(t)...)
	r := hostNodeup(t, bin, args...)
	if r.Code != 0 {
		t.Fatalf("cloud-init: %s", r)
	}
	plain := filepath.Join(dir, "user-data")
	os.WriteFile(plain, []byte(r.Stdout), 0o600)
	out, err := hostCommand(t, "cloud-init", "schema", "--config-file", plain)
	t.Logf("cloud-init schema --config-file user-data:\n%s", out)
	if err != nil || !strings.Contains(out, "Valid cloud-config: "+plain) {
		t.Fatalf("cloud-init schema: %v\n%s\n%s", err, out, r.Stdout)
	}

	script := filepath.Join(dir, "hello.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho hello from a second part\n"), 0o644)
	r = hostNodeup(t, bin, append(args, "--format", "mime", "--part", script, "--gzip")...)
	if r.Code != 0 {
		t.Fatalf("cloud-init --format mime --gzip: %s", r)
	}
	gz := filepath.Join(dir, "user-data.gz")
	os.WriteFile(gz, []byte(r.Stdout), 0o600)
	// cloud-init's own reading of user data: gunzip, walk the parts.
	const unpack = `
import sys
from cloudinit import helpers, user_data
msg = user_data.UserDataProcessor(helpers.Paths({})).process(open(sys.argv[1], "rb").read())
for part in msg.walk():
    if part.get_content_maintype() == "multipart":
        continue
    print(part.get_content_type(), part.get("Merge-Type"))
    if part.get_content_type() == "text/cloud-config":
        open(sys.argv[2], "wb").write(part.get_payload(decode=True))
`
	extracted := filepath.Join(dir, "part.yaml")
	out, err = hostCommand(t, "/usr/bin/python3", "-c", unpack, gz, extracted)
	t.Logf("cloud-init's user data processor on the gzipped mime:\n%s", out)
	if err != nil || out != "text/cloud-config list(append)+dict(no_replace,recurse_list)+str()\ntext/x-shellscript None\n" {
		t.Fatalf("parts: %v\n%s", err, out)
	}
	out, err = hostCommand(t, "cloud-init", "schema", "--config-file", extracted)
	t.Logf("cloud-init schema --config-file (the mime's cloud-config part):\n%s", out)
	if err != nil || !strings.Contains(out, "Valid cloud-config") {
		t.Fatalf("cloud-init schema of the mime part: %v\n%s", err, out)
	}
	if a, b := readHost(t, extracted), readHost(t, plain); a != b {
		t.Errorf("the mime's cloud-config differs from --format cloud-config")
	}
}

func readHost(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCloudInitNoCloud boots a node with Debian's cloud-init and nodeup's
// user data (multipart, gzipped) in a NoCloud seed. The node is an image
// baked with the same profile plus a stray file in its profile directory
// that would break a merge: the user data must replace the directory, and
// nodeup-boot.service and cloud-init's runcmd, which both apply at first
// boot, must queue on the lock rather than fail.
func TestCloudInitNoCloud(t *testing.T) {
	bin := buildNodeup(t)
	n := testbed.Create(t, testbed.Options{Rootfs: testbed.CloudRootfs(t), BootTimeout: 30 * time.Minute,
		Binds: []testbed.Bind{testbed.MirrorBind(t)}})
	installBootUnit(t, n, bin)
	demo := filepath.Join(profilesDir(t), "demo.hcl")
	if r := hostNodeup(t, bin, append([]string{"apply", demo, "--phase", "bake", "--root", n.Root()}, demoValues(t)...)...); r.Code != 0 {
		t.Fatalf("bake: %s", r)
	}
	if err := n.WriteFile("/etc/nodeup/profile.d/stray.hcl", []byte("node {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The node sees the mirror at /srv/mirror.
	r := hostNodeup(t, bin, "cloud-init", demo, "--var-file", testbed.VarFile(t, "2.3.4"), "--var", "mirror_url=file:///srv/mirror", "--format", "mime", "--gzip")
	if r.Code != 0 {
		t.Fatalf("cloud-init: %s", r)
	}
	if err := n.WriteFile("/var/lib/cloud/seed/nocloud/user-data", []byte(r.Stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteFile("/var/lib/cloud/seed/nocloud/meta-data", []byte("instance-id: iid-nodeup-test\nlocal-hostname: node\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	n.Start()
	status := n.Exec("cloud-init", "status", "--wait", "--long")
	t.Logf("cloud-init status --wait --long: %s", status)
	output := n.Run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "cloud-final.service")
	t.Logf("cloud-final.service (runcmd):\n%s", output)
	if status.Code != 0 || !strings.Contains(status.Stdout, "status: done") {
		t.Fatalf("cloud-init did not finish cleanly: %s\n%s", status, n.Journal(""))
	}
	requireVerified(t, "cloud-init's runcmd", output)
	if got := strings.Fields(n.Run(t, "ls", "/etc/nodeup/profile.d")); strings.Join(got, " ") != "demo.hcl nodeup.auto.vars.hcl" {
		t.Errorf("profile directory after the user data: %v", got)
	}
	if vars := n.Run(t, "cat", "/etc/nodeup/profile.d/nodeup.auto.vars.hcl"); !strings.Contains(vars, `"file:///srv/mirror"`) {
		t.Errorf("the user data's values are not the node's:\n%s", vars)
	}
	if mode := strings.TrimSpace(n.Run(t, "stat", "-c", "%a", "/etc/nodeup/profile.d/nodeup.auto.vars.hcl")); mode != "600" {
		t.Errorf("values file mode %s", mode)
	}
	state := n.Run(t, "systemctl", "show", "-p", "ActiveState", "-p", "Result", "nodeup-boot.service")
	journal := n.Run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "nodeup-boot.service")
	t.Logf("nodeup-boot.service: %s\n%s", state, journal)
	if !strings.Contains(state, "Result=success") {
		t.Errorf("nodeup-boot.service: %s", state)
	}
	requireVerified(t, "nodeup-boot.service", journal)
	out := n.Run(t, "crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	if !strings.Contains(out, "RuntimeName:  containerd") {
		t.Errorf("crictl version:\n%s", out)
	}
}
