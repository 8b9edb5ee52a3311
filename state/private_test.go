package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

// A file only its owner may read is recorded in the world-readable
// state.json by a mark keyed with a 0600 key, never by its sha256; the
// mark still tells nodeup's own file from an edited one, across a save and
// a load, and nothing nodeup prints about it shows a sha256.
func TestPrivateFilesHaveNoPublicHash(t *testing.T) {
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	secret, public := []byte("password = \"pw\"\n"), []byte("x\n")
	const vars, conf = "/etc/nodeup/profile.d/nodeup.auto.vars.hcl", "/etc/x.conf"
	s := New()
	for p, c := range map[string][]byte{vars: secret, conf: public} {
		mode := os.FileMode(0o644)
		if p == vars {
			mode = 0o600
		}
		if err := h.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := h.WriteFile(p, c, mode); err != nil {
			t.Fatal(err)
		}
		s.RecordContent(p, c, mode)
	}
	if err := s.Save(h); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(root, paths.StateFile))
	if strings.Contains(string(raw), digest.Bytes(secret)) || !strings.Contains(string(raw), digest.Bytes(public)) {
		t.Errorf("state.json:\n%s", raw)
	}
	fi, err := os.Stat(filepath.Join(root, paths.StateKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	s, err = Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if got := Shown(s.Snapshot().Files[vars]); got != "(sensitive)" {
		t.Errorf("shown as %q", got)
	}
	for _, p := range []string{vars, conf} {
		if foreign, err := s.Foreign(h, p); err != nil || foreign {
			t.Errorf("%s: foreign %v, %v", p, foreign, err)
		}
		if st := s.FileStatus(h, p); st != "as nodeup wrote it" {
			t.Errorf("%s: %s", p, st)
		}
	}
	if err := h.WriteFile(vars, []byte("password = \"other\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if foreign, err := s.Foreign(h, vars); err != nil || !foreign {
		t.Errorf("edited private file: foreign %v, %v", foreign, err)
	}
	if st := s.FileStatus(h, vars); st != "changed since nodeup wrote it" {
		t.Errorf("edited private file: %s", st)
	}
	// Without its key, a mark matches nothing: the file counts as changed
	// (kept, backed up), never as nodeup's.
	os.Remove(filepath.Join(root, paths.StateKeyFile))
	if s, err = Load(h); err != nil {
		t.Fatal(err)
	}
	if foreign, _ := s.Foreign(h, vars); !foreign {
		t.Error("a mark without its key matched")
	}
}
