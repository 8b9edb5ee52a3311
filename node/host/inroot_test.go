package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Symlinks at every depth below the root, absolute or climbing with "..",
// lead nodeup's own files (state, backups, staging, lock, writes, removals)
// to their place inside the root, never outside it.
func TestSymlinksBelowRootStayInside(t *testing.T) {
	h, root := newHost(t)
	outside := t.TempDir()
	up := strings.Repeat("../", 12)
	mustSymlink(t, outside, filepath.Join(root, "run"))                                   // first level, absolute
	mustSymlink(t, outside+"/lib", filepath.Join(root, "var/lib/nodeup"))                 // third level, absolute
	mustSymlink(t, up+outside+"/stage", filepath.Join(root, "opt/vendor/kata"))           // third level, climbing
	mustSymlink(t, up+outside+"/certs", filepath.Join(root, "etc/containerd/certs.d/io")) // fourth level, climbing
	mustSymlink(t, outside+"/victim", filepath.Join(root, "etc/containerd/config.toml"))
	os.WriteFile(filepath.Join(outside, "victim"), []byte("outside"), 0o644)

	if err := h.WriteFile("/var/lib/nodeup/state.json", []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("/etc/containerd/certs.d/io/hosts.toml", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Backup("/etc/containerd/certs.d/io/hosts.toml"); err != nil {
		t.Fatal(err)
	}
	stage, err := h.MkdirTemp("/opt/vendor/kata/x", StagePrefix+"kata-")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile(stage+"/bin/shim", []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	release, err := h.Lock(context.Background(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	release()
	// Reading through the link reads inside the root: the outside victim
	// is not the node's file.
	if _, err := h.ReadFile("/etc/containerd/config.toml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read through a link to an outside file: %v, want not found", err)
	}
	if err := h.RemoveAll("/opt/vendor/kata/x"); err != nil {
		t.Fatal(err)
	}

	if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "outside" {
		t.Errorf("outside file changed: %q", b)
	}
	filepath.WalkDir(outside, func(p string, d fs.DirEntry, err error) error {
		if p != outside && d.Name() != "victim" {
			t.Errorf("written outside the root: %s", p)
		}
		return nil
	})
	for _, p := range []string{"lib/state.json", "nodeup.lock", "certs/hosts.toml", "lib/backup/etc/containerd/certs.d/io/hosts.toml"} {
		if _, err := os.Stat(filepath.Join(root, outside, p)); err != nil {
			t.Errorf("%s is not under the root: %v", p, err)
		}
	}
}

// An operation holds the directory it acts in: swapping a path component
// for a symlink while a file is being written cannot move the file outside.
func TestAtomicFileHoldsItsDirectory(t *testing.T) {
	h, root := newHost(t)
	outside := t.TempDir()
	a, err := h.Create("/etc/containerd/config.toml", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("new"))
	if err := os.Rename(filepath.Join(root, "etc/containerd"), filepath.Join(root, "etc/moved")); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, outside, filepath.Join(root, "etc/containerd"))
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(outside); len(es) != 0 {
		t.Fatalf("committed outside: %v", es)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/moved/config.toml")); err != nil || string(b) != "new" {
		t.Fatalf("the file is not in the directory it was created in: %q %v", b, err)
	}
}

// A fifo where nodeup reads its state (or any file) is refused at once:
// reading it would wait for a writer forever.
func TestReadFileRefusesFifo(t *testing.T) {
	h, root := newHost(t)
	os.MkdirAll(filepath.Join(root, "var/lib/nodeup"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(root, "var/lib/nodeup/state.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.ReadFile("/var/lib/nodeup/state.json")
		done <- err
	}()
	select {
	case err := <-done:
		want := "read /var/lib/nodeup/state.json: not a regular file: it is a fifo; move it away"
		if err == nil || err.Error() != want || !errors.Is(err, ErrNotRegular) {
			t.Fatalf("got %v, want %q", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFile blocked on a fifo")
	}
	if _, err := h.SHA256("/var/lib/nodeup/state.json"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("SHA256 of a fifo: %v", err)
	}
}

// The fallback walk for kernels without openat2 resolves exactly as the
// kernel does, and refuses what the kernel refuses.
func TestWalkMatchesOpenat2(t *testing.T) {
	_, root := newHost(t)
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc/a/b"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/a/b/g"), []byte("g"), 0o644)
	mustSymlink(t, "/usr/lib", filepath.Join(root, "lib"))
	mustSymlink(t, outside, filepath.Join(root, "out"))
	mustSymlink(t, "../../../../../../../../usr", filepath.Join(root, "etc/a/b/up"))
	mustSymlink(t, "b/up/lib", filepath.Join(root, "etc/a/chain"))
	mustSymlink(t, "loop2", filepath.Join(root, "loop1"))
	mustSymlink(t, "loop1", filepath.Join(root, "loop2"))
	mustSymlink(t, "f", filepath.Join(root, "usr/lib/flink"))

	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	ino := func(fd int, err error) string {
		if err != nil {
			return "error " + err.Error()
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		return fmt.Sprintf("mode %o inode %d", st.Mode&unix.S_IFMT, st.Ino)
	}
	cases := []struct {
		res   resolution
		path  string
		flags int
	}{
		{inRoot, "lib/f", unix.O_RDONLY},
		{inRoot, "/lib/f", unix.O_RDONLY},
		{inRoot, "out", unix.O_PATH},
		{inRoot, "etc/a/chain/f", unix.O_RDONLY},
		{inRoot, "etc/a/b/up/lib/../lib/f", unix.O_RDONLY},
		{inRoot, "../../..", unix.O_PATH},
		{inRoot, "loop1", unix.O_PATH},
		{inRoot, "usr/lib/flink", unix.O_RDONLY},
		{inRoot, "usr/lib/flink", unix.O_PATH | unix.O_NOFOLLOW},
		{inRoot, "usr/lib/flink", unix.O_RDONLY | unix.O_NOFOLLOW},
		{inRoot, "missing/x", unix.O_PATH},
		{noLinks, "etc/a/b/g", unix.O_RDONLY},
		{noLinks, "lib/f", unix.O_RDONLY},
		{noLinks, "usr/lib/flink", unix.O_RDONLY},
		{noLinks, "usr/lib/flink", unix.O_PATH},
		{noLinks, "../x", unix.O_PATH},
	}
	for _, c := range cases {
		kernel := ino(openAt(rootfd, c.path, c.res, c.flags, 0))
		walked := ino(walk(rootfd, c.path, c.res, c.flags, 0))
		if kernel != walked {
			t.Errorf("%q (mode %d, flags %#x): openat2 gives %s, the walk %s", c.path, c.res, c.flags, kernel, walked)
		}
	}
}
