package host

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
)

// Copy keeps content, mode (set-id bits too) and, as root, the owner; a
// symlink stays a symlink.
func TestCopyKeepsModeAndOwner(t *testing.T) {
	root := t.TempDir()
	h, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "etc/tool")
	os.MkdirAll(filepath.Dir(src), 0o755)
	os.WriteFile(src, []byte("binary"), 0o755)
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		uid, gid = 1234, 2345
		if err := os.Chown(src, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(src, 0o750|os.ModeSetuid)
	if err := h.Copy("/etc/tool", "/var/lib/nodeup/rollback/etc/tool"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, "var/lib/nodeup/rollback/etc/tool"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	b, _ := os.ReadFile(filepath.Join(root, "var/lib/nodeup/rollback/etc/tool"))
	if string(b) != "binary" || fi.Mode() != 0o750|os.ModeSetuid || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("copy: %q %v %d:%d", b, fi.Mode(), st.Uid, st.Gid)
	}

	os.Symlink("tool", filepath.Join(root, "etc/link"))
	if err := h.Copy("/etc/link", "/var/lib/nodeup/rollback/etc/link"); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(root, "var/lib/nodeup/rollback/etc/link")); err != nil || target != "tool" {
		t.Errorf("symlink copy: %q %v", target, err)
	}
	if err := h.Copy("/etc", "/tmp/etc"); err == nil {
		t.Errorf("a directory was copied")
	}
}

// Backups lists the first backup of a path before the later ones, and a
// later one whose first was put back under the same path.
func TestBackupsListsTheFirstBackupFirst(t *testing.T) {
	root := t.TempDir()
	h, _ := New(root)
	for _, content := range []string{"distro", "edited once", "edited twice"} {
		h.WriteFile("/etc/containerd/config.toml", []byte(content), 0o644)
		if _, err := h.Backup("/etc/containerd/config.toml"); err != nil {
			t.Fatal(err)
		}
	}
	all, err := h.Backups()
	if err != nil {
		t.Fatal(err)
	}
	list := all["/etc/containerd/config.toml"]
	if len(all) != 1 || len(list) != 3 || FirstBackup("/etc/containerd/config.toml", list) != paths.BackupDir+"/etc/containerd/config.toml" {
		t.Fatalf("backups: %v", all)
	}
	if b, _ := h.ReadFile(list[0]); string(b) != "distro" {
		t.Errorf("first backup holds %q", b)
	}
	h.Remove(list[0])
	all, _ = h.Backups()
	if l := all["/etc/containerd/config.toml"]; len(l) != 2 || FirstBackup("/etc/containerd/config.toml", l) != "" || !slices.IsSorted(l) {
		t.Errorf("after the first is put back: %v", all)
	}
}
