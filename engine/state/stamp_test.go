package state

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nodeup/nodeup/node/host"
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
