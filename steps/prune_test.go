package steps_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// wrote puts a file on the test node as nodeup writes one: on disk and on
// the record.
func wrote(n *stepstest.Node, p, content string) {
	n.Write(p, content, 0o644)
	n.Env.State.Record(p, digest.Bytes([]byte(content)))
}

func pruneFile(p string) *steps.Prune {
	return &steps.Prune{What: steps.PruneFile, Name: p, Files: []string{p}}
}

// A file nodeup wrote is removed and off the record; the plan says so and
// changes nothing; a second run has nothing to do.
func TestPruneFile(t *testing.T) {
	n := stepstest.NewNode(t)
	p := "/etc/containerd/certs.d/docker.io/hosts.toml"
	wrote(n, p, "server = \"https://registry-1.docker.io\"\n")
	ch := converges(t, n, pruneFile(p), steps.Delete)
	if ch.Reason != "(no longer in the profile)" || ch.Diff != "" {
		t.Errorf("change %+v", ch)
	}
	if n.Exists(p) {
		t.Error("the file is still there")
	}
	if _, ok := n.Env.State.Lookup(p); ok {
		t.Error("the file is still on the record")
	}
	if ch := n.CheckApply(pruneFile(p), false); ch.Reason != "(no longer in the profile): already gone" {
		t.Errorf("once gone: %+v", ch)
	}
}

// A file nodeup replaced goes back from its backup, mode and all.
func TestPruneFileRestoresTheBackup(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Write(paths.CrictlConfig, "distro\n", 0o600)
	f := &steps.File{Path: paths.CrictlConfig, Mode: 0o644, Content: []byte("nodeup\n")}
	n.CheckApply(f, true)
	ch := converges(t, n, pruneFile(paths.CrictlConfig), steps.Delete)
	if !strings.Contains(ch.Reason, "restore /etc/crictl.yaml (from /var/lib/nodeup/backup/etc/crictl.yaml, the file nodeup replaced)") {
		t.Errorf("reason %q", ch.Reason)
	}
	if got := n.Read(paths.CrictlConfig); got != "distro\n" {
		t.Errorf("crictl.yaml %q", got)
	}
	if fi, err := os.Stat(n.Real(paths.CrictlConfig)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	if n.Exists("/var/lib/nodeup/backup/etc/crictl.yaml") {
		t.Error("the backup stays after it was put back")
	}
}

// A file changed by hand since nodeup wrote it is someone's: left, with a
// warning, and off nodeup's record, so the next plan is quiet.
func TestPruneFileLeavesAFileChangedByHand(t *testing.T) {
	n := stepstest.NewNode(t)
	p := "/etc/cni/net.d/10-bridge.conflist"
	wrote(n, p, "{}\n")
	n.Write(p, "{\"edited\": true}\n", 0o644)
	ch := converges(t, n, pruneFile(p), steps.NoOp)
	if !strings.Contains(ch.Reason, "keep "+p+" (changed since nodeup wrote it)") {
		t.Errorf("reason %q", ch.Reason)
	}
	if n.Read(p) != "{\"edited\": true}\n" {
		t.Error("the edited file changed")
	}
	if _, ok := n.Env.State.Lookup(p); ok {
		t.Error("the edited file is still nodeup's on the record")
	}
	if len(n.Warns) == 0 || !strings.Contains(n.Warns[0], p) {
		t.Errorf("warnings %q", n.Warns)
	}
}

// An artifact's files go, and the artifact leaves the record.
func TestPruneArtifact(t *testing.T) {
	n := stepstest.NewNode(t)
	wrote(n, "/usr/local/bin/crictl", "crictl")
	n.Env.State.RecordArtifact("crictl", state.Artifact{Version: "1.36.0", SHA256: "abc", Files: []string{"/usr/local/bin/crictl"}})
	p := &steps.Prune{What: steps.PruneArtifact, Name: "crictl", Files: []string{"/usr/local/bin/crictl"}}
	if ch := converges(t, n, p, steps.Delete); ch.Reason != "(no longer in the profile): remove /usr/local/bin/crictl" {
		t.Errorf("reason %q", ch.Reason)
	}
	if _, ok := n.Env.State.Artifact("crictl"); ok || n.Exists("/usr/local/bin/crictl") {
		t.Error("crictl is still installed or recorded")
	}
}

// A file of an artifact that stays (a CNI plugin the profile no longer
// lists) goes, and off the artifact's record.
func TestPruneFileOfAnArtifact(t *testing.T) {
	n := stepstest.NewNode(t)
	for _, p := range []string{"/opt/cni/bin/bridge", "/opt/cni/bin/portmap"} {
		wrote(n, p, "plugin")
	}
	sum := digest.Bytes([]byte("plugin"))
	n.Env.State.RecordArtifact("cni", state.Artifact{Version: "1.9.1", SHA256: "abc", Files: []string{"/opt/cni/bin/bridge", "/opt/cni/bin/portmap"},
		Members: map[string]string{"/opt/cni/bin/bridge": sum, "/opt/cni/bin/portmap": sum}})
	converges(t, n, pruneFile("/opt/cni/bin/portmap"), steps.Delete)
	a, _ := n.Env.State.Artifact("cni")
	if _, ok := a.Members["/opt/cni/bin/portmap"]; ok || !slices.Equal(a.Files, []string{"/opt/cni/bin/bridge"}) || a.Members["/opt/cni/bin/bridge"] != sum {
		t.Errorf("cni's record: %+v", a)
	}
	if n.Exists("/opt/cni/bin/portmap") || !n.Exists("/opt/cni/bin/bridge") {
		t.Error("the wrong plugin went")
	}
}

// A tree's members go; what an operator added there stays, and so does
// the directory holding it.
func TestPruneTree(t *testing.T) {
	n, _ := kataNode(t)
	n.Write("/opt/kata/local/notes", "mine\n", 0o644)
	p := &steps.Prune{What: steps.PruneArtifact, Name: "kata", Trees: []string{"/opt/kata"}}
	if ch := converges(t, n, p, steps.Delete); !strings.HasPrefix(ch.Reason, "(no longer in the profile): remove /opt/kata (kata 3.32.0: 3 files and links nodeup installed)") {
		t.Errorf("reason %q", ch.Reason)
	}
	if n.Exists("/opt/kata/bin/containerd-shim-kata-v2") || n.Exists("/opt/kata/bin") || n.Read("/opt/kata/local/notes") != "mine\n" {
		t.Errorf("after the prune: %v", stepstest.Files(t, n.Real("/opt")))
	}
	if _, ok := n.Env.State.Tree("/opt/kata"); ok {
		t.Error("the tree is still on the record")
	}
}

// Without systemd running (an image), a unit is disabled by removing the
// [Install] links enabling it made; its unit file goes too.
func TestPruneUnitOffline(t *testing.T) {
	n := stepstest.NewNode(t)
	u := &steps.Unit{Name: "kubelet.service", Path: "/etc/systemd/system/kubelet.service", WantedBy: []string{"multi-user.target"}}
	wrote(n, u.Path, "[Service]\nExecStart=/usr/local/bin/kubelet\n[Install]\nWantedBy=multi-user.target\n")
	n.CheckApply(u, true)
	link := "/etc/systemd/system/multi-user.target.wants/kubelet.service"
	if !n.Exists(link) {
		t.Fatal("not enabled")
	}
	p := &steps.Prune{What: steps.PruneUnit, Name: u.Name, Files: []string{u.Path}, Reload: true}
	ch := converges(t, n, p, steps.Delete)
	if ch.Reason != "(no longer in the profile): unlink "+link+", remove "+u.Path+" (written by nodeup)" {
		t.Errorf("reason %q", ch.Reason)
	}
	if n.Exists(link) || n.Exists(u.Path) {
		t.Error("the unit is still enabled or its file there")
	}
	if _, ok := n.Env.State.Unit(u.Name); ok {
		t.Error("the unit is still on the record")
	}
}

// With systemd running, a unit is stopped and disabled, its file removed,
// and systemd reloaded once.
func TestPruneUnitOnline(t *testing.T) {
	n := stepstest.NewNode(t)
	fake := n.Online()
	u := &steps.Unit{Name: "kubelet.service", Path: "/etc/systemd/system/kubelet.service", WantedBy: []string{"multi-user.target"}, Start: true}
	wrote(n, u.Path, "[Service]\nExecStart=/usr/local/bin/kubelet\n")
	n.CheckApply(u, true)
	n.Settle(u.Name)
	fake.Reset()
	p := &steps.Prune{What: steps.PruneUnit, Name: u.Name, Files: []string{u.Path}, Reload: true}
	ch := converges(t, n, p, steps.Delete)
	if ch.Reason != "(no longer in the profile): stop kubelet.service, disable kubelet.service, remove "+u.Path+" (written by nodeup), reload systemd" {
		t.Errorf("reason %q", ch.Reason)
	}
	if calls, want := fake.Calls(), []string{"stop kubelet.service", "disable kubelet.service", "daemon-reload"}; !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	if _, ok := n.Env.State.Unit(u.Name); ok || n.Exists(u.Path) {
		t.Error("the unit is still on the record or its file there")
	}
}

// A directory nodeup created goes when it is empty; one holding someone's
// file stays, off the record.
func TestPruneDir(t *testing.T) {
	n := stepstest.NewNode(t)
	d := &steps.Dir{Path: "/etc/containerd/certs.d/docker.io", Mode: 0o755}
	n.CheckApply(d, true)
	p := &steps.Prune{What: steps.PruneDir, Name: d.Path}
	if ch := converges(t, n, p, steps.Delete); ch.Reason != "(no longer in the profile): remove if empty" {
		t.Errorf("reason %q", ch.Reason)
	}
	if n.Exists(d.Path) {
		t.Error("the empty directory is still there")
	}

	n.CheckApply(d, true)
	n.Write(d.Path+"/mine.toml", "x", 0o644)
	n.CheckApply(p, true)
	if !n.Exists(d.Path + "/mine.toml") {
		t.Error("a directory holding someone's file was removed")
	}
	if slices.Contains(n.Env.State.Snapshot().Dirs, d.Path) {
		t.Error("the directory is still on the record")
	}
}

// A kernel module or sysctl the profile dropped changes nothing itself
// (its modules-load.d or sysctl.d file is rewritten by its own step): the
// plan says the running kernel keeps it until the next boot.
func TestPruneKernel(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Env.Kernel = stepstest.NewKernel(t).Kernel
	before := stepstest.Snapshot(t, n.Root)
	m := n.CheckApply(&steps.Prune{What: steps.PruneModule, Name: "dummy"}, true)
	s := n.CheckApply(&steps.Prune{What: steps.PruneSysctl, Name: "vm.max_map_count", Value: "262144"}, true)
	stepstest.SameSnapshot(t, "kernel prunes", before, stepstest.Snapshot(t, n.Root))
	if m.Action != steps.Delete || m.Reason != "(no longer in the profile): off /etc/modules-load.d/nodeup.conf; the running kernel keeps it loaded until the next boot" {
		t.Errorf("module: %+v", m)
	}
	if s.Action != steps.Delete || s.Reason != "(no longer in the profile): off /etc/sysctl.d/99-nodeup.conf; the running kernel keeps vm.max_map_count = 262144 until the next boot" {
		t.Errorf("sysctl: %+v", s)
	}
}
