package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

func TestStampsAreKeptWithTheirContentOnly(t *testing.T) {
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	const p = "/usr/local/bin/containerd"
	if err := os.MkdirAll(filepath.Join(root, "usr/local/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, p), []byte("containerd"), 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	st, ok := StampOf(fi)
	if !ok || st.Size != 10 || st.Inode == 0 || st.CTime == 0 {
		t.Fatalf("StampOf: %+v %v", st, ok)
	}

	s := New()
	s.RecordStamp(p, st)
	if s.Unchanged(p, st) {
		t.Errorf("a stamp was kept for a file with no recorded content")
	}
	s.Record(p, "aa")
	s.RecordStamp(p, st)
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	s2, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Unchanged(p, st) {
		t.Errorf("the stamp did not survive a save and a load")
	}
	other := st
	other.CTime++
	if s2.Unchanged(p, other) {
		t.Errorf("another ctime matched the stamp")
	}
	s2.Record(p, "aa")
	if !s2.Unchanged(p, st) {
		t.Errorf("recording the same content dropped the stamp")
	}
	s2.Record(p, "bb")
	if s2.Unchanged(p, st) {
		t.Errorf("the stamp of the old content vouches for the new")
	}
}

// Tree members recorded with size and mtime only (before stamps had a
// ctime and inode) read into a stamp that vouches for nothing, and are
// written back under the same keys.
func TestTreeEntriesOfSizeAndMTimeOnly(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := `{"version": 3, "files": {}, "trees": {"/opt/kata": {"bin/shim": {"sha256": "cc", "mode": 493, "size": 4, "mtime": 1700000000000000000}}}}`
	if err := h.WriteFile(paths.StateFile, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := s.Tree("/opt/kata")
	e := tr["bin/shim"]
	if e.SHA256 != "cc" || e.Size != 4 || e.MTime != 1700000000000000000 || e.CTime != 0 {
		t.Fatalf("entry: %+v", e)
	}
	if e.Vouches(e.Stamp) {
		t.Errorf("a stamp without a ctime vouches for a file")
	}
	e.CTime, e.Inode = 1700000000000000001, 42
	tr["bin/shim"] = e
	s.RecordTree("/opt/kata", tr)
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	b, _ := h.ReadFile(paths.StateFile)
	for _, want := range []string{`"size": 4`, `"mtime": 1700000000000000000`, `"ctime": 1700000000000000001`, `"inode": 42`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("saved state lacks %s:\n%s", want, b)
		}
	}
}
