package steps_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/systemd/systemdtest"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// What a reset needs to know without a profile is recorded when a step
// applies: the directories nodeup created, the units it enabled, the
// files and trees of each artifact.

func TestDirStepRecordsWhatItCreated(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Write("/etc/hostname", "node\n", 0o644)
	n.CheckApply(&steps.Dir{Path: "/etc/containerd/certs.d", Mode: 0o755}, false)
	if dirs := n.Env.State.Snapshot().Dirs; len(dirs) != 0 {
		t.Errorf("a plan recorded %q", dirs)
	}
	n.CheckApply(&steps.Dir{Path: "/etc/containerd/certs.d", Mode: 0o755}, true)
	if dirs := n.Env.State.Snapshot().Dirs; !slices.Equal(dirs, []string{"/etc/containerd", "/etc/containerd/certs.d"}) {
		t.Errorf("recorded %q; /etc was there before", dirs)
	}
}

func TestUnitStepRecordsTheUnit(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Online()
	var fake *systemdtest.Fake
	u := containerdUnit()
	n.Write(u.Path, containerdUnitFile, 0o644)
	n.CheckApply(u, false)
	if _, ok := n.Env.State.Unit(u.Name); ok {
		t.Errorf("a plan recorded the unit")
	}
	n.CheckApply(u, true)
	rec, ok := n.Env.State.Unit(u.Name)
	if !ok || rec.File != u.Path || !rec.Start || rec.EnabledBefore || !slices.Equal(rec.Links, []string{"/etc/systemd/system/multi-user.target.wants/containerd.service"}) {
		t.Errorf("recorded %+v %v", rec, ok)
	}

	// A distribution's unit enabled before nodeup came: reset leaves it so.
	n2 := stepstest.NewNode(t)
	fake = n2.Online()
	fake.Unit("kubelet.service").FileState = "enabled"
	n2.Write("/lib/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet\n[Install]\nWantedBy=multi-user.target\n", 0o644)
	n2.CheckApply(&steps.Unit{Name: "kubelet.service"}, true)
	if rec, _ := n2.Env.State.Unit("kubelet.service"); !rec.EnabledBefore || rec.File != "" {
		t.Errorf("distribution unit: %+v", rec)
	}

	// A node set up by a nodeup that did not record units: its own unit
	// file, enabled, is not someone else's enablement.
	n3 := stepstest.NewNode(t)
	fake = n3.Online()
	fake.Unit(u.Name).FileState = "enabled"
	fake.SetState(u.Name, "active")
	n3.Settle(u.Name)
	n3.Write(u.Path, containerdUnitFile, 0o644)
	n3.Env.State.Record(u.Path, stepstest.SHA([]byte(containerdUnitFile)))
	n3.CheckApply(u, true)
	if rec, ok := n3.Env.State.Unit(u.Name); !ok || rec.EnabledBefore {
		t.Errorf("unit of an earlier nodeup: %+v %v", rec, ok)
	}

	// Offline, the links written are recorded.
	n4 := stepstest.NewNode(t)
	n4.Write(u.Path, containerdUnitFile, 0o644)
	n4.CheckApply(u, true)
	if rec, _ := n4.Env.State.Unit(u.Name); rec.EnabledBefore || len(rec.Links) != 1 {
		t.Errorf("offline: %+v", rec)
	}
}

func TestArtifactRecordsItsFilesAndTheReleaseItReplaced(t *testing.T) {
	n := stepstest.NewNode(t)
	m := stepstest.NewMirror(t)
	url := "https://github.com/containerd/containerd/releases/download/v1.7.30/containerd-1.7.30-linux-amd64.tar.gz"
	a := &steps.Artifact{
		Name: "containerd", Version: "1.7.30", URL: url, Mirrors: []string{m.URL}, Format: archive.FormatTarGz,
		SHA256: m.Put(url, stepstest.TarGz(t, stepstest.Reg("bin/containerd", "containerd 1.7"))),
		Files:  []archive.Placement{{From: "bin/containerd", To: "/usr/local/bin/containerd", Mode: 0o755}},
	}
	n.CheckApply(a, true)
	rec, _ := n.Env.State.Artifact("containerd")
	if !slices.Equal(rec.Files, []string{"/usr/local/bin/containerd"}) || rec.Previous != nil {
		t.Errorf("first install: %+v", rec)
	}
	b := *a
	b.Version, b.SHA256 = "2.3.4", m.Put(url, stepstest.TarGz(t, stepstest.Reg("bin/containerd", "containerd 2.3")))
	n.CheckApply(&b, true)
	rec, _ = n.Env.State.Artifact("containerd")
	if rec.Version != "2.3.4" || rec.Previous == nil || rec.Previous.Version != "1.7.30" || rec.Previous.SHA256 != a.SHA256 {
		t.Errorf("upgrade: %+v %+v", rec, rec.Previous)
	}
}

// A run killed after it swapped a new tree in, before its state recorded
// the tree, leaves nodeup's own files there: the next apply does not back
// them up as someone else's. An operator's file beside them still is.
func TestArtifactTreeLeftByAKilledRunIsNotBackedUp(t *testing.T) {
	n, a := kataNode(t)
	m := stepstest.NewMirror(t)
	data := stepstest.TarZst(t,
		stepstest.DirEntry("./opt/"), stepstest.DirEntry("./opt/kata/"), stepstest.DirEntry("./opt/kata/bin/"),
		stepstest.Reg("./opt/kata/bin/containerd-shim-kata-v2", "shim 3.33"),
		stepstest.Reg("./opt/kata/share/defaults/kata-containers/configuration-qemu.toml", "[hypervisor.qemu]\n# 3.33\n"),
		stepstest.SymlinkEntry("./opt/kata/share/defaults/kata-containers/configuration.toml", "configuration-qemu.toml"),
	)
	b := *a
	b.Version, b.Mirrors, b.SHA256 = "3.33.0", []string{m.URL}, m.Put(a.URL, data)

	// The killed run: the new tree is in place, the state still has the old.
	file := filepath.Join(t.TempDir(), "kata.tar.zst")
	os.WriteFile(file, data, 0o644)
	arc, err := archive.Open(file, archive.FormatTarZst)
	if err != nil {
		t.Fatal(err)
	}
	if err := arc.InstallTree(n.Host, b.Trees[0]); err != nil {
		t.Fatal(err)
	}
	n.Write("/opt/kata/operator.conf", "mine\n", 0o640)

	if ch := n.CheckApply(&b, true); ch.Action != steps.Update {
		t.Fatalf("re-run: %+v", ch)
	}
	backups, _ := n.Host.Backups()
	if len(backups) != 1 || n.Read("/var/lib/nodeup/backup/opt/kata/operator.conf") != "mine\n" {
		t.Errorf("backups after the re-run: %v", backups)
	}
	if rec, _ := n.Env.State.Tree("/opt/kata"); rec["bin/containerd-shim-kata-v2"].SHA256 != stepstest.SHA([]byte("shim 3.33")) {
		t.Errorf("recorded tree: %+v", rec)
	}
}
