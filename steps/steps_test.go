package steps_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// converges runs the contract every step kind keeps: a plan (apply=false)
// leaves the host as it was; the first apply reports want and changes the
// host; the second reports no-op and changes nothing, mtimes included.
// It returns the change of the first apply.
func converges(t *testing.T, n *stepstest.Node, a steps.Step, want steps.Outcome) steps.Change {
	t.Helper()
	before := stepstest.Snapshot(t, n.Root)
	planned := n.CheckApply(a, false)
	if planned.Action != want {
		t.Errorf("plan: %+v, want %s", planned, want)
	}
	stepstest.SameSnapshot(t, "plan (apply=false)", before, stepstest.Snapshot(t, n.Root))

	first := n.CheckApply(a, true)
	if first.Action != want {
		t.Errorf("first apply: %+v, want %s", first, want)
	}
	if first.Reason != planned.Reason {
		t.Errorf("the plan said %q, the apply %q", planned.Reason, first.Reason)
	}
	applied := stepstest.Snapshot(t, n.Root)

	second := n.CheckApply(a, true)
	if second.Action != steps.NoOp {
		t.Errorf("second apply: %+v, want no-op", second)
	}
	stepstest.SameSnapshot(t, "second apply", applied, stepstest.Snapshot(t, n.Root))
	if again := n.CheckApply(a, false); again.Action != steps.NoOp {
		t.Errorf("plan after apply: %+v, want no-op", again)
	}
	return first
}

func TestDirStep(t *testing.T) {
	n := stepstest.NewNode(t)
	d := &steps.Dir{Path: "/etc/containerd/certs.d", Mode: 0o755}
	converges(t, n, d, steps.Create)
	if fi, err := os.Stat(n.Real(d.Path)); err != nil || !fi.IsDir() {
		t.Fatalf("%s: %v", d.Path, err)
	}

	n.Write("/opt/cni", "a file", 0o644)
	_, err := stepstest.Do(n.Env, &steps.Dir{Path: "/opt/cni", Mode: 0o755}, false)
	if err == nil || !strings.Contains(err.Error(), "/opt/cni exists and is not a directory") {
		t.Errorf("a file in the way: %v", err)
	}
}

func TestFileStep(t *testing.T) {
	n := stepstest.NewNode(t)
	f := &steps.File{Path: "/etc/crictl.yaml", Mode: 0o644, Content: []byte("runtime-endpoint: unix:///run/containerd/containerd.sock\n")}
	ch := converges(t, n, f, steps.Create)
	if !strings.Contains(ch.Diff, "--- /dev/null\n+++ /etc/crictl.yaml\n") || !strings.Contains(ch.Diff, "+runtime-endpoint:") {
		t.Errorf("diff of a new file:\n%s", ch.Diff)
	}
	if got := n.Read(f.Path); got != string(f.Content) {
		t.Errorf("content %q", got)
	}
	if sum, ok := n.Env.State.Lookup(f.Path); !ok || sum != stepstest.SHA(f.Content) {
		t.Errorf("state records %q, %v", sum, ok)
	}

	// New content: an update with a diff; nodeup wrote the old file, so
	// there is no backup.
	f2 := &steps.File{Path: f.Path, Mode: 0o644, Content: []byte("runtime-endpoint: unix:///run/other.sock\n")}
	ch = converges(t, n, f2, steps.Update)
	if ch.Reason != "content differs" || !strings.Contains(ch.Diff, "-runtime-endpoint: unix:///run/containerd/containerd.sock\n+runtime-endpoint: unix:///run/other.sock\n") {
		t.Errorf("update: %q\n%s", ch.Reason, ch.Diff)
	}
	if n.Exists(paths.BackupDir) {
		t.Errorf("a file nodeup wrote was backed up")
	}

	// Mode only.
	f3 := &steps.File{Path: f.Path, Mode: 0o600, Content: f2.Content}
	ch = converges(t, n, f3, steps.Update)
	if ch.Reason != "mode 0644 -> 0600" || ch.Diff != "" {
		t.Errorf("mode change: %+v", ch)
	}
	if fi, _ := os.Stat(n.Real(f.Path)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// A file nodeup did not write is backed up before it is replaced, and the
// plan says so with a unified diff.
func TestFileStepBacksUpForeignFile(t *testing.T) {
	n := stepstest.NewNode(t)
	old := "version = 2\n[plugins]\n  hand = \"edited\"\n"
	n.Write("/etc/containerd/config.toml", old, 0o644)
	f := &steps.File{Path: "/etc/containerd/config.toml", Mode: 0o644, Content: []byte("version = 3\n[plugins]\n")}

	before := stepstest.Snapshot(t, n.Root)
	plan := n.CheckApply(f, false)
	stepstest.SameSnapshot(t, "plan", before, stepstest.Snapshot(t, n.Root))
	if plan.Action != steps.Update || !strings.Contains(plan.Reason, "nodeup did not write it: the old file is backed up under /var/lib/nodeup/backup") {
		t.Errorf("plan: %+v", plan)
	}
	wantDiff := "--- /etc/containerd/config.toml\n+++ /etc/containerd/config.toml\n@@ -1,3 +1,2 @@\n-version = 2\n+version = 3\n [plugins]\n-  hand = \"edited\"\n"
	if plan.Diff != wantDiff {
		t.Errorf("diff:\n%s\nwant:\n%s", plan.Diff, wantDiff)
	}

	n.CheckApply(f, true)
	if got := n.Read("/var/lib/nodeup/backup/etc/containerd/config.toml"); got != old {
		t.Errorf("backup holds %q", got)
	}
	if got := n.Read(f.Path); got != string(f.Content) {
		t.Errorf("file holds %q", got)
	}
	applied := stepstest.Snapshot(t, n.Root)
	if ch := n.CheckApply(f, true); ch.Action != steps.NoOp {
		t.Errorf("second apply: %+v", ch)
	}
	stepstest.SameSnapshot(t, "second apply", applied, stepstest.Snapshot(t, n.Root))

	// Edited by hand since nodeup wrote it: foreign again, a second backup
	// that keeps the first.
	n.Write(f.Path, "edited again\n", 0o644)
	if ch := n.CheckApply(f, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, "changed since nodeup wrote it: the edited file is backed up under /var/lib/nodeup/backup") {
		t.Errorf("plan after a hand edit: %+v", ch)
	}
	if ch := n.CheckApply(f, true); ch.Action != steps.Update || !strings.Contains(ch.Reason, "backed up") {
		t.Errorf("after a hand edit: %+v", ch)
	}
	backups, _ := filepath.Glob(n.Real("/var/lib/nodeup/backup/etc/containerd/config.toml*"))
	if len(backups) != 2 {
		t.Errorf("backups: %v", backups)
	}
}

func TestArtifactStepTarGzFiles(t *testing.T) {
	n := stepstest.NewNode(t)
	m := stepstest.NewMirror(t)
	url := "https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz"
	data := stepstest.TarGz(t, stepstest.DirEntry("bin/"), stepstest.Reg("bin/containerd", "containerd v1"), stepstest.Reg("bin/ctr", "ctr v1"), stepstest.Reg("bin/containerd-shim-runc-v2", "shim v1"))
	a := &steps.Artifact{
		Name: "containerd", Version: "2.3.4", URL: url, Mirrors: []string{m.URL}, SHA256: m.Put(url, data), Format: archive.FormatTarGz,
		Files: []archive.Placement{
			{From: "bin/containerd", To: "/usr/local/bin/containerd", Mode: 0o755},
			{From: "bin/ctr", To: "/usr/local/bin/ctr", Mode: 0o755},
		},
	}
	ch := converges(t, n, a, steps.Create)
	if !strings.HasPrefix(ch.Reason, "install containerd 2.3.4") {
		t.Errorf("reason %q", ch.Reason)
	}
	if got := n.Read("/usr/local/bin/containerd"); got != "containerd v1" {
		t.Errorf("containerd %q", got)
	}
	if fi, _ := os.Stat(n.Real("/usr/local/bin/ctr")); fi.Mode().Perm() != 0o755 {
		t.Errorf("ctr mode %v", fi.Mode())
	}
	if n.Exists("/usr/local/bin/containerd-shim-runc-v2") {
		t.Errorf("a member nobody asked for was installed")
	}
	if m.Requests() != 1 {
		t.Errorf("%d downloads, want 1", m.Requests())
	}

	// An installed file changed by hand: reinstalled, the hand-made one
	// backed up.
	n.Write("/usr/local/bin/ctr", "patched", 0o755)
	if ch := n.CheckApply(a, true); ch.Action != steps.Update || !strings.Contains(ch.Reason, "/usr/local/bin/ctr was changed since nodeup installed it") {
		t.Errorf("after a hand change: %+v", ch)
	}
	if got := n.Read("/usr/local/bin/ctr"); got != "ctr v1" {
		t.Errorf("ctr %q", got)
	}
	if got := n.Read("/var/lib/nodeup/backup/usr/local/bin/ctr"); got != "patched" {
		t.Errorf("backup %q", got)
	}

	// A new sha256 in the profile: an update.
	data2 := stepstest.TarGz(t, stepstest.Reg("bin/containerd", "containerd v2"), stepstest.Reg("bin/ctr", "ctr v2"))
	a2 := *a
	a2.Version, a2.SHA256 = "2.3.5", m.Put(url, data2)
	ch = converges(t, n, &a2, steps.Update)
	if !strings.Contains(ch.Reason, "the profile pins sha256 "+a2.SHA256[:12]+", the node has "+a.SHA256[:12]) {
		t.Errorf("reason %q", ch.Reason)
	}
	if got := n.Read("/usr/local/bin/containerd"); got != "containerd v2" {
		t.Errorf("containerd %q", got)
	}
}

func TestArtifactStepTarZstTree(t *testing.T) {
	n := stepstest.NewNode(t)
	a := kataArtifact(t)
	converges(t, n, a, steps.Create)
	if got := n.Read("/opt/kata/bin/containerd-shim-kata-v2"); got != "shim" {
		t.Errorf("shim %q", got)
	}
	if got := n.Read("/opt/kata/share/defaults/kata-containers/configuration.toml"); got != "[hypervisor.qemu]\n" {
		t.Errorf("configuration.toml through its link: %q", got)
	}

	// The tree removed: reinstalled.
	os.RemoveAll(n.Real("/opt/kata"))
	if ch := n.CheckApply(a, true); ch.Action != steps.Update || !strings.Contains(ch.Reason, "/opt/kata is missing") {
		t.Errorf("after removal: %+v", ch)
	}
	if !n.Exists("/opt/kata/bin/containerd-shim-kata-v2") {
		t.Errorf("not reinstalled")
	}
}

// Drift inside a tree is seen member by member and repaired by the next
// apply: a deleted or altered file, a mode change, a symlink pointed
// elsewhere. Each case starts from a converged node.
func TestArtifactTreeDrift(t *testing.T) {
	const shim = "/opt/kata/bin/containerd-shim-kata-v2"
	const link = "/opt/kata/share/defaults/kata-containers/configuration.toml"
	for _, tc := range []struct {
		name   string
		drift  func(n *stepstest.Node)
		reason string
	}{
		{"deleted file", func(n *stepstest.Node) { os.Remove(n.Real(shim)) }, shim + " is missing"},
		{"altered file", func(n *stepstest.Node) { os.WriteFile(n.Real(shim), []byte("evil"), 0o755) }, shim + " was changed since nodeup installed it"},
		{"same size, other bytes", func(n *stepstest.Node) { os.WriteFile(n.Real(shim), []byte("sham"), 0o755) }, shim + " was changed since nodeup installed it"},
		{"mode", func(n *stepstest.Node) { os.Chmod(n.Real(shim), 0o777) }, shim + " has mode 0777, nodeup installed it 0755"},
		{"symlink", func(n *stepstest.Node) {
			os.Remove(n.Real(link))
			os.Symlink("/etc/shadow", n.Real(link))
		}, link + " no longer links to configuration-qemu.toml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a := kataNode(t)
			tc.drift(n)
			if ch := n.CheckApply(a, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, tc.reason) {
				t.Fatalf("plan after drift: %+v, want an update because %s", ch, tc.reason)
			}
			if ch := n.CheckApply(a, true); ch.Action != steps.Update {
				t.Fatalf("apply after drift: %+v", ch)
			}
			if ch := n.CheckApply(a, false); ch.Action != steps.NoOp {
				t.Errorf("plan after repair: %+v", ch)
			}
			if got := n.Read(shim); got != "shim" {
				t.Errorf("shim after repair: %q", got)
			}
			if fi, _ := os.Stat(n.Real(shim)); fi.Mode().Perm() != 0o755 {
				t.Errorf("shim mode after repair: %v", fi.Mode())
			}
			if target, _ := os.Readlink(n.Real(link)); target != "configuration-qemu.toml" {
				t.Errorf("link after repair: %q", target)
			}
		})
	}
}

// kataArtifact serves a kata-like release (a shim, a configuration and a
// link to it under opt/kata) and returns the step that installs its tree.
func kataArtifact(t *testing.T) *steps.Artifact {
	m := stepstest.NewMirror(t)
	url := "https://github.com/kata-containers/kata-containers/releases/download/3.32.0/kata-static-3.32.0-amd64.tar.zst"
	data := stepstest.TarZst(t,
		stepstest.DirEntry("./opt/"), stepstest.DirEntry("./opt/kata/"), stepstest.DirEntry("./opt/kata/bin/"),
		stepstest.Reg("./opt/kata/bin/containerd-shim-kata-v2", "shim"),
		stepstest.Reg("./opt/kata/share/defaults/kata-containers/configuration-qemu.toml", "[hypervisor.qemu]\n"),
		stepstest.SymlinkEntry("./opt/kata/share/defaults/kata-containers/configuration.toml", "configuration-qemu.toml"),
	)
	a := &steps.Artifact{
		Name: "kata", Version: "3.32.0", URL: url, Mirrors: []string{m.URL}, SHA256: m.Put(url, data), Format: archive.FormatTarZst,
		Trees: []archive.Tree{{From: "opt/kata", To: "/opt/kata"}},
	}
	return a
}

// kataNode is a node with a kata-like tree installed by an artifact step.
func kataNode(t *testing.T) (*stepstest.Node, *steps.Artifact) {
	n := stepstest.NewNode(t)
	a := kataArtifact(t)
	if ch := n.CheckApply(a, true); ch.Action != steps.Create {
		t.Fatalf("first apply: %+v", ch)
	}
	return n, a
}

// An operator's files in the tree's place are backed up before nodeup
// replaces the tree the first time, like any file nodeup did not write.
func TestArtifactTreeBacksUpForeignFiles(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Write("/opt/kata/operator.conf", "mine\n", 0o640)
	n.Write("/opt/kata/bin/containerd-shim-kata-v2", "an older shim", 0o755)
	m := stepstest.NewMirror(t)
	url := "https://example.test/kata.tar.zst"
	data := stepstest.TarZst(t, stepstest.DirEntry("./opt/kata/"), stepstest.Reg("./opt/kata/bin/containerd-shim-kata-v2", "shim"))
	a := &steps.Artifact{
		Name: "kata", Version: "3.32.0", URL: url, Mirrors: []string{m.URL}, SHA256: m.Put(url, data), Format: archive.FormatTarZst,
		Trees: []archive.Tree{{From: "opt/kata", To: "/opt/kata"}},
	}
	if ch := n.CheckApply(a, true); ch.Action != steps.Create {
		t.Fatalf("apply: %+v", ch)
	}
	for p, want := range map[string]string{"/opt/kata/operator.conf": "mine\n", "/opt/kata/bin/containerd-shim-kata-v2": "an older shim"} {
		if got := n.Read("/var/lib/nodeup/backup" + p); got != want {
			t.Errorf("backup of %s: %q, want %q", p, got, want)
		}
	}
	if got := n.Read("/opt/kata/bin/containerd-shim-kata-v2"); got != "shim" {
		t.Errorf("shim: %q", got)
	}
	// A reinstall of nodeup's own tree backs up nothing more.
	os.Remove(n.Real("/opt/kata/bin/containerd-shim-kata-v2"))
	before := stepstest.Snapshot(t, n.Real("/var/lib/nodeup/backup"))
	if ch := n.CheckApply(a, true); ch.Action != steps.Update {
		t.Fatalf("reinstall: %+v", ch)
	}
	stepstest.SameSnapshot(t, "backups after a reinstall", before, stepstest.Snapshot(t, n.Real("/var/lib/nodeup/backup")))
}

// A run killed after it swapped a new tree in, before it recorded it,
// leaves nodeup's own new files where the state names the old ones: the
// next run must not take them for an operator's and back them up.
func TestArtifactTreeKilledBeforeItsRecord(t *testing.T) {
	n, a := kataNode(t)
	m := stepstest.NewMirror(t)
	url := "https://example.test/kata-b.tar.zst"
	b := &steps.Artifact{
		Name: "kata", Version: "3.33.0", URL: url, Mirrors: []string{m.URL}, Format: archive.FormatTarZst,
		Trees: a.Trees,
		SHA256: m.Put(url, stepstest.TarZst(t, stepstest.DirEntry("./opt/kata/"),
			stepstest.Reg("./opt/kata/bin/containerd-shim-kata-v2", "shim b"),
			stepstest.Reg("./opt/kata/bin/hardlinked", "shim b"))),
	}
	// What the swap left: B's files, A's record.
	os.RemoveAll(n.Real("/opt/kata"))
	n.Write("/opt/kata/bin/containerd-shim-kata-v2", "shim b", 0o755)
	n.Write("/opt/kata/bin/hardlinked", "shim b", 0o755)
	if ch := n.CheckApply(b, true); ch.Action != steps.Update {
		t.Fatalf("re-run: %+v", ch)
	}
	if n.Exists("/var/lib/nodeup/backup") {
		t.Errorf("nodeup backed up its own files: %v", stepstest.Snapshot(t, n.Real("/var/lib/nodeup/backup")))
	}
}

// runcNode is a node with a runc binary installed by an artifact step.
func runcNode(t *testing.T) (*stepstest.Node, *steps.Artifact) {
	n := stepstest.NewNode(t)
	m := stepstest.NewMirror(t)
	url := "https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"
	a := &steps.Artifact{
		Name: "runc", Version: "1.4.3", URL: url, Mirrors: []string{m.URL}, SHA256: m.Put(url, []byte("\x7fELF runc")), Format: archive.FormatBinary,
		Files: []archive.Placement{{To: "/usr/local/sbin/runc", Mode: 0o755}},
	}
	converges(t, n, a, steps.Create)
	return n, a
}

// An installed binary whose mode changed is drift, repaired by the apply.
func TestArtifactBinaryModeDrift(t *testing.T) {
	n, a := runcNode(t)
	os.Chmod(n.Real("/usr/local/sbin/runc"), 0o644)
	if ch := n.CheckApply(a, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, "/usr/local/sbin/runc has mode 0644, the profile installs it 0755") {
		t.Fatalf("plan after chmod 644: %+v", ch)
	}
	n.CheckApply(a, true)
	if fi, _ := os.Stat(n.Real("/usr/local/sbin/runc")); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode after repair: %v", fi.Mode())
	}
}

func TestArtifactStepRawBinary(t *testing.T) {
	n := stepstest.NewNode(t)
	m := stepstest.NewMirror(t)
	url := "https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"
	a := &steps.Artifact{
		Name: "runc", Version: "1.4.3", URL: url, Mirrors: []string{m.URL}, SHA256: m.Put(url, []byte("\x7fELF runc")), Format: archive.FormatBinary,
		Files: []archive.Placement{{To: "/usr/local/sbin/runc", Mode: 0o755}},
	}
	converges(t, n, a, steps.Create)
	if got := n.Read("/usr/local/sbin/runc"); got != "\x7fELF runc" {
		t.Errorf("runc %q", got)
	}

	// A checksum mismatch installs nothing and names URL and both sums.
	n2 := stepstest.NewNode(t)
	bad := *a
	bad.SHA256 = strings.Repeat("0", 64)
	_, err := stepstest.Do(n2.Env, &bad, true)
	if err == nil || !strings.Contains(err.Error(), "download runc 1.4.3") || !strings.Contains(err.Error(), strings.Repeat("0", 64)) ||
		!strings.Contains(err.Error(), a.SHA256) || !strings.Contains(err.Error(), m.URL+"/github.com/opencontainers/runc/") {
		t.Errorf("mismatch: %v", err)
	}
	if n2.Exists("/usr/local/sbin/runc") {
		t.Errorf("installed despite the mismatch")
	}
}

// fakeApt is dpkg-query and apt-get under a chroot, with packages in memory.
type fakeApt struct {
	n         *stepstest.Node
	installed map[string]string
	calls     []string
}

func (f *fakeApt) run(_ context.Context, c pkgmgr.Cmd) ([]byte, error) {
	argv := c.Argv
	if argv[0] != "chroot" || argv[1] != f.n.Root {
		f.n.T.Errorf("not chrooted into the root: %q", argv)
	} else {
		argv = argv[2:]
	}
	f.calls = append(f.calls, strings.Join(argv, " "))
	name := argv[len(argv)-1]
	switch argv[0] {
	case "dpkg-query":
		if v, ok := f.installed[name]; ok {
			return []byte("installed\t" + v + "\n"), nil
		}
		out := "dpkg-query: no packages found matching " + name + "\n"
		return []byte(out), &pkgmgr.ExitError{Argv: argv, Code: 1, Output: out}
	case "apt-get":
		pkg, version, _ := strings.Cut(name, "=")
		f.installed[pkg] = version + "-1ubuntu1"
		f.n.Write("/usr/bin/"+pkg, "binary", 0o755)
		return nil, nil
	}
	return nil, errors.New("unexpected command")
}

func TestPackageStep(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Write("/usr/bin/apt-get", "#!/bin/sh\n", 0o755)
	n.Write("/usr/bin/dpkg-query", "#!/bin/sh\n", 0o755)
	apt := &fakeApt{n: n, installed: map[string]string{}}
	n.Env.Packages = func() (pkgmgr.Manager, error) { return pkgmgr.DetectWith(n.Host, apt.run) }

	p := &steps.Package{Name: "containerd", Version: "1.7.24", Binaries: []string{"/usr/bin/containerd"}}
	ch := converges(t, n, p, steps.Create)
	if ch.Reason != "install containerd 1.7.24 with apt" {
		t.Errorf("reason %q", ch.Reason)
	}
	var installs []string
	for _, c := range apt.calls {
		if strings.HasPrefix(c, "apt-get ") {
			installs = append(installs, c)
		}
	}
	if len(installs) != 1 || !strings.HasSuffix(installs[0], " --allow-downgrades containerd=1.7.24") {
		t.Errorf("commands: %q", apt.calls)
	}

	// Another version pinned: an update.
	p2 := &steps.Package{Name: "containerd", Version: "1.7.25", Binaries: p.Binaries}
	if ch := converges(t, n, p2, steps.Update); ch.Reason != "containerd 1.7.24-1ubuntu1 installed, profile wants 1.7.25 (apt)" {
		t.Errorf("reason %q", ch.Reason)
	}

	// No package manager: a clear error.
	n3 := stepstest.NewNode(t)
	n3.Env.Packages = func() (pkgmgr.Manager, error) { return pkgmgr.DetectWith(n3.Host, apt.run) }
	if _, err := stepstest.Do(n3.Env, p, false); err == nil || !strings.Contains(err.Error(), `use source = "release"`) {
		t.Errorf("no apt: %v", err)
	}
}

const containerdUnitFile = `[Unit]
Description=containerd container runtime

[Service]
ExecStart=/usr/local/bin/containerd
Type=notify

[Install]
WantedBy=multi-user.target
`

func containerdUnit() *steps.Unit {
	return &steps.Unit{
		Name: "containerd.service", Path: "/etc/systemd/system/containerd.service", WantedBy: []string{"multi-user.target"}, Start: true,
		RestartOn: []string{"artifact:containerd", "file:/etc/containerd/config.toml", "file:/etc/systemd/system/containerd.service"},
	}
}

func TestUnitStepOnline(t *testing.T) {
	n := stepstest.NewNode(t)
	fake := n.Online()
	n.Write("/etc/systemd/system/containerd.service", containerdUnitFile, 0o644)
	u := containerdUnit()
	n.Changes["file:/etc/systemd/system/containerd.service"] = true // written in this run
	n.Paths["file:/etc/systemd/system/containerd.service"] = []string{"/etc/systemd/system/containerd.service"}

	before := stepstest.Snapshot(t, n.Root)
	if ch := n.CheckApply(u, false); ch.Action != steps.Create || ch.Reason != "daemon-reload, enable, start (is inactive)" {
		t.Errorf("plan: %+v", ch)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("the plan called %q", calls)
	}
	if ch := n.CheckApply(u, true); ch.Action != steps.Create {
		t.Errorf("first apply: %+v", ch)
	}
	want := []string{"daemon-reload", "enable containerd.service", "start containerd.service"}
	if calls := fake.Calls(); !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	if fu := fake.Unit("containerd.service"); fu.ActiveState != "active" || fu.FileState != "enabled" {
		t.Errorf("unit %+v", fu)
	}

	// Next run: nothing changed, so only reads.
	n.Settle("containerd.service")
	fake.Reset()
	n.Changes = map[string]bool{}
	if ch := n.CheckApply(u, true); ch.Action != steps.NoOp || !strings.HasPrefix(ch.Reason, "enabled, active (pid ") {
		t.Errorf("second apply: %+v", ch)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("second apply called %q", calls)
	}
	stepstest.SameSnapshot(t, "online unit step", before, stepstest.Snapshot(t, n.Root))

	// The config changed in this run: a restart, no daemon-reload.
	n.Changes["file:/etc/containerd/config.toml"] = true
	if ch := n.CheckApply(u, true); ch.Action != steps.Update || ch.Reason != "restart (file:/etc/containerd/config.toml changed)" {
		t.Errorf("config changed: %+v", ch)
	}
	if calls := fake.Calls(); !slices.Equal(calls, []string{"restart containerd.service"}) {
		t.Errorf("calls %q", calls)
	}

	// Stopped by someone: started again.
	fake.SetState("containerd.service", "inactive")
	fake.Reset()
	n.Changes = map[string]bool{}
	if ch := n.CheckApply(u, true); ch.Action != steps.Update || ch.Reason != "start (is inactive)" {
		t.Errorf("stopped: %+v", ch)
	}
	if calls := fake.Calls(); !slices.Equal(calls, []string{"start containerd.service"}) {
		t.Errorf("calls %q", calls)
	}

	// The bake phase enables but starts nothing.
	n2 := stepstest.NewNode(t)
	fake2 := n2.Online()
	n2.Env.Phase = steps.PhaseBake
	if ch := n2.CheckApply(u, true); !ch.Changed() || ch.Reason != "enable" {
		t.Errorf("bake: %+v", ch)
	}
	if calls := fake2.Calls(); !slices.Equal(calls, []string{"enable containerd.service"}) {
		t.Errorf("bake calls %q", calls)
	}
}

func TestUnitStepMasked(t *testing.T) {
	n := stepstest.NewNode(t)
	fake := n.Online()
	fake.Unit("containerd.service").FileState = "masked"
	_, err := stepstest.Do(n.Env, containerdUnit(), true)
	if !errors.Is(err, steps.ErrMasked) || !strings.Contains(err.Error(), "run systemctl unmask containerd.service, then nodeup apply again") {
		t.Errorf("masked: %v", err)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("a masked unit was touched: %q", calls)
	}
}

func TestUnitStepStartFailureCarriesJournal(t *testing.T) {
	n := stepstest.NewNode(t)
	fake := n.Online()
	fu := fake.Unit("containerd.service")
	fu.AfterStart = "failed"
	fu.Journal = "containerd[812]: failed to load TOML: /etc/containerd/config.toml: (5, 3): unexpected token"
	_, err := stepstest.Do(n.Env, containerdUnit(), true)
	var ue *systemd.UnitError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "last journal lines (journalctl -u containerd.service):\n"+fu.Journal) {
		t.Errorf("start failure: %v", err)
	}
}

func TestUnitStepOffline(t *testing.T) {
	n := stepstest.NewNode(t)
	u := containerdUnit()

	// The unit file is not written yet (its file step comes first): the plan
	// still shows the enable.
	if ch := n.CheckApply(u, false); ch.Action != steps.Create {
		t.Errorf("plan before the unit file: %+v", ch)
	}
	n.Write(u.Path, containerdUnitFile, 0o644)
	ch := converges(t, n, u, steps.Create)
	if ch.Reason != "enable (write [Install] links); systemd is not running here: starts at boot" {
		t.Errorf("reason %q", ch.Reason)
	}
	link := "/etc/systemd/system/multi-user.target.wants/containerd.service"
	if target, err := os.Readlink(n.Real(link)); err != nil || target != u.Path {
		t.Errorf("%s -> %q, %v", link, target, err)
	}

	// A distribution's unit (no Path) is found where packages put it.
	n.Write("/lib/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet\n[Install]\nWantedBy=multi-user.target\n", 0o644)
	k := &steps.Unit{Name: "kubelet.service"}
	converges(t, n, k, steps.Create)
	if target, _ := os.Readlink(n.Real("/etc/systemd/system/multi-user.target.wants/kubelet.service")); target != "/lib/systemd/system/kubelet.service" {
		t.Errorf("kubelet link -> %q", target)
	}
}

func TestModuleStep(t *testing.T) {
	n := stepstest.NewNode(t)
	k := stepstest.NewKernel(t)
	n.Env.Kernel = k.Kernel
	m := &steps.Module{Name: "br_netfilter"}

	ksnap := stepstest.Snapshot(t, filepath.Dir(filepath.Dir(k.ProcSys)))
	if ch := n.CheckApply(m, false); ch.Action != steps.Create || ch.Reason != "modprobe br_netfilter" {
		t.Errorf("plan: %+v", ch)
	}
	stepstest.SameSnapshot(t, "module plan", ksnap, stepstest.Snapshot(t, filepath.Dir(filepath.Dir(k.ProcSys))))
	converges(t, n, m, steps.Create)
	if got := k.Loads(); !slices.Equal(got, []string{"br_netfilter"}) {
		t.Errorf("modprobe ran for %q", got)
	}

	// A container: no /lib/modules for the release. A warning, not a change.
	os.RemoveAll(k.LibModules)
	if ch := n.CheckApply(&steps.Module{Name: "overlay"}, true); ch.Action != steps.NoOp || !strings.Contains(ch.Reason, "missing, as in a container") {
		t.Errorf("container: %+v", ch)
	}
	if len(n.Warns) != 1 || !strings.Contains(n.Warns[0], "kernel module overlay is not loaded and cannot be loaded here") {
		t.Errorf("warnings %q", n.Warns)
	}

	// Bake, and a root that is not the running kernel's: skipped.
	n.Env.Phase = steps.PhaseBake
	if ch := n.CheckApply(m, true); ch.Action != steps.Skip {
		t.Errorf("bake: %+v", ch)
	}
	n.Env.Phase, n.Env.Kernel = steps.PhaseAll, nil
	if ch := n.CheckApply(m, true); ch.Action != steps.Skip {
		t.Errorf("no kernel: %+v", ch)
	}
}

func TestSysctlStep(t *testing.T) {
	n := stepstest.NewNode(t)
	k := stepstest.NewKernel(t)
	n.Env.Kernel = k.Kernel
	s := &steps.Sysctl{Name: "net.ipv4.ip_forward", Value: "1"}
	procSys := stepstest.Snapshot(t, k.ProcSys)
	n.CheckApply(s, false)
	stepstest.SameSnapshot(t, "sysctl plan", procSys, stepstest.Snapshot(t, k.ProcSys))
	if ch := converges(t, n, s, steps.Update); ch.Reason != "0 -> 1" {
		t.Errorf("reason %q", ch.Reason)
	}
	if b, _ := os.ReadFile(filepath.Join(k.ProcSys, "net/ipv4/ip_forward")); string(b) != "1" {
		t.Errorf("ip_forward %q", b)
	}

	// A sysctl of a module that is not loaded: a warning, not a failure. A
	// plan does not warn: the module steps before it have not run.
	bridge := &steps.Sysctl{Name: "net.bridge.bridge-nf-call-iptables", Value: "1"}
	if ch := n.CheckApply(bridge, false); ch.Action != steps.NoOp || len(n.Warns) != 0 {
		t.Errorf("plan of an unknown sysctl: %+v %q", ch, n.Warns)
	}
	ch := n.CheckApply(bridge, true)
	if ch.Action != steps.NoOp || len(n.Warns) != 1 || !strings.Contains(n.Warns[0], "sysctl net.bridge.bridge-nf-call-iptables does not exist in this kernel (is its module loaded?)") {
		t.Errorf("unknown sysctl: %+v %q", ch, n.Warns)
	}
}

func TestVerifyStep(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Online()
	sock := stepstest.ServeCRI(t, "runc", "kata-qemu")
	n.Write("/opt/cni/bin/bridge", stepstest.CNIScript, 0o755)
	v := &steps.Verify{
		Endpoint: "unix://" + sock, Handlers: []string{"runc", "kata-qemu"}, CgroupDriver: "systemd",
		Timeout: 5 * time.Second, CNIBinDir: "/opt/cni/bin", CNIPlugins: []string{"bridge"},
	}
	var report *cri.Report
	n.Env.Verified = func(r cri.Report) { report = &r }

	before := stepstest.Snapshot(t, n.Root)
	if ch := n.CheckApply(v, false); ch.Action != steps.Skip || report != nil {
		t.Errorf("plan: %+v, report %v", ch, report)
	}
	ch := n.CheckApply(v, true)
	if ch.Action != steps.NoOp || report == nil || !report.OK() {
		t.Fatalf("verify: %+v %+v", ch, report)
	}
	if ch.Reason != "7 checks passed" {
		t.Errorf("reason %q; checks %+v", ch.Reason, report.Checks)
	}
	stepstest.SameSnapshot(t, "verify", before, stepstest.Snapshot(t, n.Root))
	if ch := n.CheckApply(v, true); ch.Action != steps.NoOp {
		t.Errorf("second verify: %+v", ch)
	}

	// A handler the runtime lacks fails the step, naming it.
	missing := *v
	missing.Handlers = []string{"runc", "kata-fc"}
	_, err := stepstest.Do(n.Env, &missing, true)
	var ve *steps.VerifyError
	if !errors.As(err, &ve) || len(ve.Failed) != 1 || !strings.Contains(err.Error(), "handler kata-fc: not registered; the runtime has: kata-qemu, runc") {
		t.Errorf("missing handler: %v", err)
	}

	// Env.Dial replaces the socket.
	dials := 0
	n.Env.Dial = stepstest.DialTo(sock, &dials)
	other := *v
	other.Endpoint = "unix:///run/containerd/containerd.sock"
	if ch := n.CheckApply(&other, true); ch.Action != steps.NoOp || dials != 1 {
		t.Errorf("through Env.Dial: %+v, %d dials", ch, dials)
	}

	// Bake, or no systemd: nothing runs, so nothing to verify.
	n.Env.Phase = steps.PhaseBake
	if ch := n.CheckApply(v, true); ch.Action != steps.Skip {
		t.Errorf("bake: %+v", ch)
	}
	n.Env.Phase, n.Env.Systemd = steps.PhaseAll, nil
	if ch := n.CheckApply(v, true); ch.Action != steps.Skip {
		t.Errorf("offline: %+v", ch)
	}
}

// A running unit whose file is newer than its process (an earlier run was
// killed between writing the file and restarting) is restarted; one that
// was (re)started right after its files were written is not, although
// /proc's boot time has whole seconds.
func TestUnitRestartsWhenFileIsNewerThanProcess(t *testing.T) {
	n := stepstest.NewNode(t)
	fake := n.Online()
	u := containerdUnit()
	n.Paths["file:/etc/containerd/config.toml"] = []string{"/etc/containerd/config.toml"}
	n.Write("/etc/containerd/config.toml", "version = 3\n", 0o644)
	fake.Unit("containerd.service").FileState = "enabled"

	// A process started just after the file was written (its mtime set a
	// little in the past: the process starts later, whatever the clock's
	// resolution).
	written := time.Now().Add(-20 * time.Millisecond)
	os.Chtimes(n.Real("/etc/containerd/config.toml"), written, written)
	proc := exec.Command("sleep", "30")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	fake.SetState("containerd.service", "active")
	fake.Unit("containerd.service").MainPID = uint32(proc.Process.Pid)

	if ch := n.CheckApply(u, true); ch.Action != steps.NoOp {
		t.Errorf("a unit started after its config was written: %+v", ch)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("calls %q", calls)
	}

	// The config written well after the process started.
	fake.Unit("containerd.service").MainPID = uint32(proc.Process.Pid)
	later := time.Now().Add(5 * time.Second)
	os.Chtimes(n.Real("/etc/containerd/config.toml"), later, later)
	if ch := n.CheckApply(u, true); ch.Action != steps.Update || ch.Reason != "restart (/etc/containerd/config.toml is newer than the running process)" {
		t.Errorf("config newer than the process: %+v", ch)
	}
	if calls := fake.Calls(); !slices.Equal(calls, []string{"restart containerd.service"}) {
		t.Errorf("calls %q", calls)
	}
}

// A mask (a symlink to /dev/null) is the operator's: neither the unit's
// file step nor offline enabling replaces it, and neither does a plan.
func TestMaskIsNotReplaced(t *testing.T) {
	n := stepstest.NewNode(t)
	mask := func(p string) {
		os.MkdirAll(filepath.Dir(n.Real(p)), 0o755)
		if err := os.Symlink("/dev/null", n.Real(p)); err != nil {
			t.Fatal(err)
		}
	}
	mask("/etc/systemd/system/containerd.service")
	mask("/etc/sysctl.d/99-nodeup.conf")
	before := stepstest.Snapshot(t, n.Root)

	unitFile := &steps.File{Path: "/etc/systemd/system/containerd.service", Mode: 0o644, Content: []byte(containerdUnitFile)}
	sysctlFile := &steps.File{Path: "/etc/sysctl.d/99-nodeup.conf", Mode: 0o644, Content: []byte("net.ipv4.ip_forward = 1\n")}
	for _, apply := range []bool{false, true} {
		_, err := stepstest.Do(n.Env, unitFile, apply)
		if !errors.Is(err, steps.ErrMasked) || !strings.Contains(err.Error(), "run systemctl unmask containerd.service") {
			t.Errorf("unit file, apply=%v: %v", apply, err)
		}
		_, err = stepstest.Do(n.Env, sysctlFile, apply)
		if err == nil || !strings.Contains(err.Error(), "/etc/sysctl.d/99-nodeup.conf is masked (a symlink to /dev/null)") {
			t.Errorf("sysctl.d file, apply=%v: %v", apply, err)
		}
	}
	stepstest.SameSnapshot(t, "masked files", before, stepstest.Snapshot(t, n.Root))

	// A distribution's unit masked in an image: not enabled behind the mask.
	n.Write("/lib/systemd/system/containerd.service", containerdUnitFile, 0o644)
	before = stepstest.Snapshot(t, n.Root)
	_, err := stepstest.Do(n.Env, &steps.Unit{Name: "containerd.service", Start: true}, true)
	if !errors.Is(err, steps.ErrMasked) {
		t.Errorf("masked distribution unit enabled offline: %v", err)
	}
	stepstest.SameSnapshot(t, "masked", before, stepstest.Snapshot(t, n.Root))
}

// TestUnitStepRecoversFromInterruptedRun: an earlier apply was killed after
// writing the unit file (systemd still has the old one) and after changing
// containerd's config (its restart is due, recorded in the state). This run
// changes nothing itself, yet reloads and restarts.
func TestUnitStepRecoversFromInterruptedRun(t *testing.T) {
	n := stepstest.NewNode(t)
	fake := n.Online()
	n.Write("/etc/systemd/system/containerd.service", containerdUnitFile, 0o644)
	u := containerdUnit()
	n.CheckApply(u, true)
	n.Settle("containerd.service")
	fake.Reset()

	fake.Unit("containerd.service").NeedReload = true
	n.Env.State.RestartDue("containerd.service", "file:/etc/containerd/config.toml")
	ch := n.CheckApply(u, false)
	if ch.Action != steps.Update || ch.Reason != "daemon-reload, restart (file:/etc/containerd/config.toml changed in an earlier run that ended before this restart)" {
		t.Errorf("plan: %+v", ch)
	}
	n.CheckApply(u, true)
	want := []string{"daemon-reload", "restart containerd.service"}
	if calls := fake.Calls(); !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	if _, due := n.Env.State.DueRestart("containerd.service"); due {
		t.Error("the due restart is still recorded after the restart")
	}
	n.Settle("containerd.service")
	fake.Reset()
	if ch := n.CheckApply(u, true); ch.Action != steps.NoOp || len(fake.Calls()) != 0 {
		t.Errorf("the run after: %+v, calls %q", ch, fake.Calls())
	}
}

// Each artifact is judged by its own members: a component that writes one
// of another's paths (a CNI release spread into a directory holding a
// member named like a containerd binary) is drift of the other, which
// the next apply repairs; and the spread component's drift is its own
// members only, not every file others put in that directory.
func TestArtifactDriftIsJudgedByItsOwnMembers(t *testing.T) {
	n := stepstest.NewNode(t)
	m := stepstest.NewMirror(t)
	curl := "https://example.com/containerd.tar.gz"
	c := &steps.Artifact{
		Name: "containerd", Version: "1", URL: curl, Mirrors: []string{m.URL}, Format: archive.FormatTarGz,
		SHA256: m.Put(curl, stepstest.TarGz(t, stepstest.Reg("bin/containerd", "containerd v1"))),
		Files:  []archive.Placement{{From: "bin/containerd", To: "/usr/local/bin/containerd", Mode: 0o755}},
	}
	nurl := "https://example.com/cni.tar.gz"
	cni := &steps.Artifact{
		Name: "cni", Version: "1", URL: nurl, Mirrors: []string{m.URL}, Format: archive.FormatTarGz,
		SHA256: m.Put(nurl, stepstest.TarGz(t, stepstest.Reg("bridge", "bridge"), stepstest.Reg("containerd", "not containerd"))),
		Files:  []archive.Placement{{From: "*", To: "/usr/local/bin/", Mode: 0o755}},
	}
	converges(t, n, c, steps.Create)
	n.CheckApply(cni, true)
	if got := n.Read("/usr/local/bin/containerd"); got != "not containerd" {
		t.Fatalf("the test's premise: containerd %q", got)
	}
	if ch := n.CheckApply(c, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, "/usr/local/bin/containerd was changed since nodeup installed it") {
		t.Errorf("containerd after another component replaced its file: %+v", ch)
	}
	n.CheckApply(c, true)
	if got := n.Read("/usr/local/bin/containerd"); got != "containerd v1" {
		t.Errorf("containerd not repaired: %q", got)
	}
	// cni's own member changed (by containerd's repair) is cni's drift;
	// containerd's other files in the directory are not cni's.
	n.Write("/usr/local/bin/ctr", "ctr", 0o755)
	n.Env.State.Record("/usr/local/bin/ctr", "0000000000000000000000000000000000000000000000000000000000000000")
	if ch := n.CheckApply(cni, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, "/usr/local/bin/containerd") {
		t.Errorf("cni: %+v", ch)
	}
}

// Under --root no program of the image runs: a package step refuses
// before it asks the image's package manager anything.
func TestPackageStepRunsNothingUnderRoot(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Env.RunsRootPrograms = false
	n.Write("/usr/bin/apt-get", "#!/bin/sh\n", 0o755)
	n.Write("/usr/bin/dpkg-query", "#!/bin/sh\n", 0o755)
	apt := &fakeApt{n: n, installed: map[string]string{}}
	n.Env.Packages = func() (pkgmgr.Manager, error) { return pkgmgr.DetectWith(n.Host, apt.run) }
	p := &steps.Package{Name: "containerd", Binaries: []string{"/usr/bin/containerd"}}
	_, err := p.Check(context.Background(), n.Env)
	if err == nil || !strings.Contains(err.Error(), "nodeup runs none of the image's programs") {
		t.Errorf("check under --root: %v", err)
	}
	if len(apt.calls) != 0 {
		t.Errorf("the image's package manager ran: %q", apt.calls)
	}
}

// An archive is unpacked while it downloads; what came from a mirror whose
// bytes fail the sha256 is never put in place, even when they are a whole,
// valid archive of their own.
func TestArtifactStreamedFromAWrongMirror(t *testing.T) {
	n := stepstest.NewNode(t)
	wrong, right := stepstest.NewMirror(t), stepstest.NewMirror(t)
	url := "https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz"
	wrong.Put(url, stepstest.TarGz(t, stepstest.Reg("bin/containerd", "tampered")))
	a := &steps.Artifact{
		Name: "containerd", Version: "2.3.4", URL: url, Mirrors: []string{wrong.URL, right.URL}, Format: archive.FormatTarGz,
		SHA256: right.Put(url, stepstest.TarGz(t, stepstest.Reg("bin/containerd", "containerd v1"))),
		Files:  []archive.Placement{{From: "bin/containerd", To: "/usr/local/bin/containerd", Mode: 0o755}},
	}
	converges(t, n, a, steps.Create)
	if got := n.Read("/usr/local/bin/containerd"); got != "containerd v1" {
		t.Errorf("containerd %q", got)
	}
	if wrong.Requests() != 1 || right.Requests() != 1 {
		t.Errorf("requests: wrong mirror %d, right mirror %d", wrong.Requests(), right.Requests())
	}
	if left, _ := filepath.Glob(n.Real("/usr/local/bin/.*")); len(left) > 0 {
		t.Errorf("staging left %v", left)
	}
}
