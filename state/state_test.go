package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

func TestStateRoundTrip(t *testing.T) {
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup("/usr/local/bin/containerd"); ok {
		t.Fatal("empty state has a record")
	}
	s.Record("/usr/local/bin/containerd", "aa")
	s.Record("/etc/containerd/config.toml", "bb")
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	s2, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"/usr/local/bin/containerd": "aa", "/etc/containerd/config.toml": "bb"} {
		if got, ok := s2.Lookup(p); !ok || got != want {
			t.Errorf("Lookup(%s) = %q %v, want %q", p, got, ok, want)
		}
	}
	// Saving an unchanged state writes nothing.
	fi1, _ := os.Stat(filepath.Join(root, "var/lib/nodeup/state.json"))
	os.Chtimes(filepath.Join(root, "var/lib/nodeup/state.json"), time.Unix(1, 0), time.Unix(1, 0))
	s2.Record("/usr/local/bin/containerd", "aa")
	if err := s2.Save(h); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(filepath.Join(root, "var/lib/nodeup/state.json"))
	if fi2.ModTime().Unix() != 1 || fi1.Size() != fi2.Size() {
		t.Errorf("unchanged state was rewritten")
	}

	// Under lists the files recorded directly in a directory, not below it.
	s2.Record("/opt/cni/bin/loopback", "cc")
	s2.Record("/opt/cni/bin/bridge", "dd")
	s2.Record("/opt/cni/bin/sub/x", "ee")
	s2.RecordArtifact("cni", Artifact{SHA256: "ff"})
	if got := s2.Under("/opt/cni/bin/"); strings.Join(got, " ") != "/opt/cni/bin/bridge /opt/cni/bin/loopback" {
		t.Errorf("Under(/opt/cni/bin/) = %v", got)
	}

	os.WriteFile(filepath.Join(root, "var/lib/nodeup/state.json"), []byte("{broken"), 0o644)
	if _, err := Load(h); err == nil || !strings.Contains(err.Error(), "/var/lib/nodeup/state.json") {
		t.Errorf("corrupt state: %v", err)
	}
}

func TestStateVersion1IsReadAndRewritten(t *testing.T) {
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	v1 := `{"version": 1, "files": {"/etc/containerd/config.toml": "aa", "artifact:containerd": "bb", "restart:containerd.service": "file:/etc/containerd/config.toml"}}`
	if err := h.WriteFile("/var/lib/nodeup/state.json", []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if sum, ok := s.Lookup("/etc/containerd/config.toml"); !ok || sum != "aa" {
		t.Errorf("file: %q %v", sum, ok)
	}
	if _, ok := s.Lookup("artifact:containerd"); ok {
		t.Error("an artifact key stayed among the files")
	}
	if a, ok := s.Artifact("containerd"); !ok || a.SHA256 != "bb" {
		t.Errorf("artifact: %+v %v", a, ok)
	}
	if cause, ok := s.DueRestart("containerd.service"); !ok || cause != "file:/etc/containerd/config.toml" {
		t.Errorf("restart: %q %v", cause, ok)
	}
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "var/lib/nodeup/state.json"))
	for _, want := range []string{`"version": 3`, `"artifacts"`, `"restarts"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rewritten state lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "artifact:") || strings.Contains(string(b), "restart:") {
		t.Errorf("rewritten state keeps version 1 keys:\n%s", b)
	}
}

func TestStateFromANewerNodeupIsRefused(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.WriteFile("/var/lib/nodeup/state.json", []byte(`{"version": 4, "files": {}}`), 0o644)
	if _, err := Load(h); err == nil || !strings.Contains(err.Error(), "newer nodeup") {
		t.Errorf("Load: %v", err)
	}
}

func TestForeign(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	const p = "/etc/containerd/config.toml"
	if f, err := s.Foreign(h, p); err != nil || f {
		t.Fatalf("missing file foreign=%v %v", f, err)
	}
	h.WriteFile(p, []byte("distro config\n"), 0o640)
	if f, _ := s.Foreign(h, p); !f {
		t.Fatal("unrecorded file is not foreign")
	}
	sum, _ := h.SHA256(p)
	s.Record(p, sum)
	if f, _ := s.Foreign(h, p); f {
		t.Fatal("a file nodeup wrote is foreign")
	}
	h.WriteFile(p, []byte("edited\n"), 0o640)
	if f, _ := s.Foreign(h, p); !f {
		t.Fatal("an edited file is not foreign")
	}
}

// A version 2 state (no units, no directories) is read as it is and
// rewritten as version 3 on the next save.
func TestStateVersion2IsReadAndRewritten(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v2 := `{"version": 2, "files": {"/usr/local/bin/containerd": "aa"}, "artifacts": {"containerd": {"version": "1.7.30", "sha256": "bb"}},
	  "trees": {"/opt/kata": {"bin/shim": {"sha256": "cc", "mode": 493}}}, "restarts": {"containerd.service": "artifact:containerd"}}`
	h.WriteFile(paths.StateFile, []byte(v2), 0o644)
	s, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := s.Artifact("containerd"); !ok || a.Version != "1.7.30" || a.SHA256 != "bb" {
		t.Errorf("artifact: %+v %v", a, ok)
	}
	if tr, ok := s.Tree("/opt/kata"); !ok || tr["bin/shim"].SHA256 != "cc" {
		t.Errorf("tree: %+v", tr)
	}
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	b, _ := h.ReadFile(paths.StateFile)
	if !strings.Contains(string(b), `"version": 3`) || !strings.Contains(string(b), `"/usr/local/bin/containerd": "aa"`) {
		t.Errorf("rewritten:\n%s", b)
	}
}

// An artifact that replaces another release records it; a reinstall of
// the same release keeps the history; a rollback puts back exactly what
// was recorded, with the release taken back.
func TestArtifactHistory(t *testing.T) {
	s := New()
	s.RecordArtifact("containerd", Artifact{Version: "1.7.30", SHA256: "old", Files: []string{"/usr/local/bin/containerd"}})
	before, _ := s.Artifact("containerd")
	if before.Previous != nil {
		t.Errorf("a first install has a previous release: %+v", before.Previous)
	}
	s.RecordArtifact("containerd", Artifact{Version: "2.3.4", SHA256: "new"})
	a, _ := s.Artifact("containerd")
	if a.Previous == nil || a.Previous.Version != "1.7.30" || a.Previous.SHA256 != "old" {
		t.Errorf("upgrade: previous %+v", a.Previous)
	}
	s.RecordArtifact("containerd", Artifact{Version: "2.3.4", SHA256: "new"})
	if again, _ := s.Artifact("containerd"); again.Previous == nil || again.Previous.Version != "1.7.30" {
		t.Errorf("a reinstall lost the previous release: %+v", again)
	}
	rolled := before
	rolled.RolledBack = &Failed{Release: Release{Version: "2.3.4", SHA256: "new"}, Error: "restart failed", Time: time.Unix(1, 0)}
	s.PutArtifact("containerd", rolled, true)
	a, _ = s.Artifact("containerd")
	if a.Version != "1.7.30" || a.SHA256 != "old" || a.RolledBack == nil || a.RolledBack.Version != "2.3.4" || a.Previous != nil {
		t.Errorf("after the rollback: %+v", a)
	}
	s.PutArtifact("containerd", Artifact{}, false)
	if _, ok := s.Artifact("containerd"); ok {
		t.Error("PutArtifact with ok false kept the record")
	}
}

// Units, directories and the artifact a path belongs to survive a save
// and load; an unchanged record does not make the state dirty.
func TestUnitsAndDirsRoundTrip(t *testing.T) {
	root := t.TempDir()
	h, _ := host.New(root)
	s := New()
	u := Unit{File: "/etc/systemd/system/containerd.service", Links: []string{"/etc/systemd/system/multi-user.target.wants/containerd.service"}, Start: true}
	s.RecordUnit("containerd.service", u)
	s.RecordDir("/etc/containerd/")
	s.RecordArtifact("kata", Artifact{Version: "3.32.0", SHA256: "k", Trees: []string{"/opt/kata"}})
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	s2, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s2.Unit("containerd.service"); !ok || got.File != u.File || len(got.Links) != 1 || !got.Start {
		t.Errorf("unit: %+v %v", got, ok)
	}
	snap := s2.Snapshot()
	if len(snap.Dirs) != 1 || snap.Dirs[0] != "/etc/containerd" {
		t.Errorf("dirs: %q", snap.Dirs)
	}
	if snap.ArtifactOf("/opt/kata") != "kata" || snap.ArtifactOf("/opt/other") != "" {
		t.Errorf("ArtifactOf")
	}
	s2.RecordUnit("containerd.service", u)
	s2.RecordDir("/etc/containerd")
	fi, _ := os.Stat(filepath.Join(root, "var/lib/nodeup/state.json"))
	os.Chtimes(filepath.Join(root, "var/lib/nodeup/state.json"), time.Unix(1, 0), time.Unix(1, 0))
	if err := s2.Save(h); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Stat(filepath.Join(root, "var/lib/nodeup/state.json")); again.ModTime().Unix() != 1 || again.Size() != fi.Size() {
		t.Error("an unchanged record rewrote the state")
	}
	s2.ForgetUnit("containerd.service")
	s2.ForgetDir("/etc/containerd")
	s2.ForgetArtifact("kata")
	if !s2.Empty() {
		t.Errorf("not empty: %+v", s2.Snapshot())
	}
}

func TestLastApply(t *testing.T) {
	h, _ := host.New(t.TempDir())
	if _, ok, err := ReadLastApply(h); ok || err != nil {
		t.Fatalf("no apply yet: %v %v", ok, err)
	}
	want := LastApply{Time: time.Unix(1700000000, 0).UTC(), OK: true, Changed: 3, Verified: true}
	if err := WriteLastApply(h, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadLastApply(h)
	if err != nil || !ok || got != want {
		t.Errorf("got %+v %v %v", got, ok, err)
	}
	h.WriteFile(paths.LastApplyFile, []byte("{"), 0o644)
	if _, _, err := ReadLastApply(h); err == nil || !strings.Contains(err.Error(), paths.LastApplyFile) {
		t.Errorf("a broken record: %v", err)
	}
}

func TestImagesRoundTrip(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	im := Image{Archive: strings.Repeat("a", 64), Arch: "amd64", ID: "sha256:" + strings.Repeat("b", 64)}
	s.RecordImage("registry.k8s.io/pause:3.10", im)
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	s2, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s2.Image("registry.k8s.io/pause:3.10"); !ok || got != im {
		t.Errorf("Image = %+v, %v; want %+v", got, ok, im)
	}
	if _, ok := s2.Image("docker.io/library/busybox:1.36"); ok {
		t.Error("an image never recorded has a record")
	}
	// Recording the same again leaves nothing to save.
	s2.RecordImage("registry.k8s.io/pause:3.10", im)
	if s2.dirty {
		t.Error("recording an unchanged image marks the state changed")
	}
}
