package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/host"
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
	for _, want := range []string{`"version": 2`, `"artifacts"`, `"restarts"`} {
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
	h.WriteFile("/var/lib/nodeup/state.json", []byte(`{"version": 3, "files": {}}`), 0o644)
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
