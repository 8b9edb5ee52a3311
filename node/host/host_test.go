package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newHost(t *testing.T) (*Host, string) {
	t.Helper()
	root := t.TempDir()
	h, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return h, h.Root()
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestPathStaysInRoot(t *testing.T) {
	h, root := newHost(t)
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	// Absolute symlink: means /usr/lib on the node, not on the machine.
	mustSymlink(t, "/usr/lib", filepath.Join(root, "lib"))
	// Absolute symlink to a real outside directory: must stay in the root.
	mustSymlink(t, outside, filepath.Join(root, "abs-out"))
	// ".." symlinks climbing above the root.
	mustSymlink(t, "../../../../../../..", filepath.Join(root, "etc/up"))
	mustSymlink(t, "../../../../../../.."+outside, filepath.Join(root, "etc/up-out"))
	// A chain: a -> b -> /c -> ../../../ (clamped at the root) -> etc
	mustSymlink(t, "b", filepath.Join(root, "a"))
	mustSymlink(t, "/c", filepath.Join(root, "b"))
	mustSymlink(t, "../../../../etc", filepath.Join(root, "c"))
	// Relative symlink resolved against where it is.
	mustSymlink(t, "../usr/lib", filepath.Join(root, "etc/rel"))
	// A loop.
	mustSymlink(t, "loop2", filepath.Join(root, "loop1"))
	mustSymlink(t, "loop1", filepath.Join(root, "loop2"))

	cases := []struct{ in, want string }{
		{"/", ""},
		{"/etc/hosts", "/etc/hosts"},
		{"/lib/x", "/usr/lib/x"},
		{"/abs-out/x", outside + "/x"},
		{"/etc/up/x", "/x"},
		{"/etc/up/etc/passwd", "/etc/passwd"},
		{"/etc/up-out/secret", outside + "/secret"},
		{"/a/passwd", "/etc/passwd"},
		{"/etc/rel/x", "/usr/lib/x"},
		{"/../../etc/x", "/etc/x"},
		{"/new/dir/file", "/new/dir/file"},
	}
	for _, c := range cases {
		got, err := h.Path(c.in)
		if err != nil {
			t.Errorf("Path(%q): %v", c.in, err)
			continue
		}
		if got != root+c.want {
			t.Errorf("Path(%q) = %q, want %q", c.in, got, root+c.want)
		}
		if got != root && !strings.HasPrefix(got, root+"/") {
			t.Errorf("Path(%q) = %q escapes the root %s", c.in, got, root)
		}
	}

	if _, err := h.Path("etc/hosts"); err == nil || !strings.Contains(err.Error(), "relative") {
		t.Errorf("relative path: got %v, want an error saying it is relative", err)
	}
	if _, err := h.Path("/loop1/x"); err == nil || !strings.Contains(err.Error(), "symbolic links") {
		t.Errorf("symlink loop: got %v", err)
	}
}

func TestWritesDoNotFollowSymlinksOut(t *testing.T) {
	h, root := newHost(t)
	outside := t.TempDir()
	mustSymlink(t, outside, filepath.Join(root, "etc"))
	mustSymlink(t, filepath.Join(outside, "victim"), filepath.Join(root, "file"))
	if err := h.WriteFile("/etc/hostname", []byte("node\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("/file", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(outside); len(es) != 0 {
		t.Fatalf("wrote outside the root: %v", es)
	}
	// The final component is replaced, not written through.
	fi, err := os.Lstat(filepath.Join(root, "file"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("/file: %v %v, want a regular file replacing the symlink", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, outside, "hostname")); err != nil || string(b) != "node\n" {
		t.Fatalf("/etc/hostname under the root: %q %v", b, err)
	}
}

func TestResolveIn(t *testing.T) {
	h, root := newHost(t)
	os.MkdirAll(filepath.Join(root, "opt/kata/bin"), 0o755)
	mustSymlink(t, "bin", filepath.Join(root, "opt/kata/ok"))
	mustSymlink(t, "../..", filepath.Join(root, "opt/kata/bin/up"))
	mustSymlink(t, "/etc", filepath.Join(root, "opt/kata/abs"))
	mustSymlink(t, "..", filepath.Join(root, "opt/kata/bin/d"))
	mustSymlink(t, "d/..", filepath.Join(root, "opt/kata/bin/x"))
	if got, err := h.ResolveIn("/opt/kata", "ok/f"); err != nil || got != "/opt/kata/bin/f" {
		t.Errorf("ok/f: %q %v", got, err)
	}
	for _, rel := range []string{"bin/up", "abs", "bin/x", "../x", "/etc"} {
		if _, err := h.ResolveIn("/opt/kata", rel); !errors.Is(err, ErrEscapes) {
			t.Errorf("ResolveIn(%q): %v, want ErrEscapes", rel, err)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	h, root := newHost(t)
	if err := h.WriteFile("/etc/containerd/config.toml", []byte("version = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("/etc/containerd/config.toml", []byte("version = 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := h.ReadFile("/etc/containerd/config.toml")
	if err != nil || string(b) != "version = 4\n" {
		t.Fatalf("read back %q %v", b, err)
	}
	fi, _ := h.Stat("/etc/containerd/config.toml")
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	assertNoTemp(t, root)
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection lost")
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = 'X'
	}
	r.n -= n
	return n, nil
}

// A writer that dies halfway (the stand-in for a crash) leaves the old file
// whole and no temporary file.
func TestInstallFileFailingWriterKeepsOldFile(t *testing.T) {
	h, root := newHost(t)
	if err := h.WriteFile("/usr/local/bin/containerd", []byte("old binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Hold the old binary open, like a running process.
	running, err := os.Open(filepath.Join(root, "usr/local/bin/containerd"))
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	err = h.InstallFile("/usr/local/bin/containerd", &failingReader{n: 1 << 20}, 0o755)
	if err == nil || !strings.Contains(err.Error(), "/usr/local/bin/containerd") || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("got %v, want an error naming the path and the cause", err)
	}
	if b, _ := h.ReadFile("/usr/local/bin/containerd"); string(b) != "old binary" {
		t.Fatalf("old file damaged: %q", b)
	}
	assertNoTemp(t, root)
	if err := h.InstallFile("/usr/local/bin/containerd", strings.NewReader("new binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(running); string(b) != "old binary" {
		t.Errorf("the running binary's inode changed: %q", b)
	}
	if b, _ := h.ReadFile("/usr/local/bin/containerd"); string(b) != "new binary" {
		t.Errorf("new content %q", b)
	}
	assertNoTemp(t, root)
}

func TestAtomicFileCancel(t *testing.T) {
	h, root := newHost(t)
	a, err := h.Create("/etc/x", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("half"))
	a.Cancel()
	if _, err := h.Lstat("/etc/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cancelled file exists: %v", err)
	}
	assertNoTemp(t, root)
}

func assertNoTemp(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), TempPrefix) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestSymlinkReplacesAtomically(t *testing.T) {
	h, root := newHost(t)
	p := "/etc/systemd/system/multi-user.target.wants/containerd.service"
	if err := h.Symlink("/etc/systemd/system/old.service", p); err != nil {
		t.Fatal(err)
	}
	if err := h.Symlink("/etc/systemd/system/containerd.service", p); err != nil {
		t.Fatal(err)
	}
	if got, err := h.Readlink(p); err != nil || got != "/etc/systemd/system/containerd.service" {
		t.Fatalf("readlink %q %v", got, err)
	}
	assertNoTemp(t, root)
}

func TestErrorsNamePathAndHint(t *testing.T) {
	h, _ := newHost(t)
	if err := h.WriteFile("/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := h.WriteFile("/f/g", []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), "/f/g") || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("got %v", err)
	}
	_, err = h.ReadFile("/missing")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "read /missing") {
		t.Fatalf("got %v", err)
	}
	if err := h.RemoveAll("/"); err == nil {
		t.Fatal("RemoveAll(/) succeeded")
	}
}

func TestNewRoot(t *testing.T) {
	if _, err := New(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "--root") {
		t.Errorf("missing root: %v", err)
	}
	h, err := New("")
	if err != nil || h.Root() != "/" {
		t.Errorf("default root: %v %v", h, err)
	}
}

func TestLock(t *testing.T) {
	h, root := newHost(t)
	ctx := context.Background()
	release, err := h.Lock(ctx, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "run/nodeup.lock"))
	if strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid", b)
	}

	// flock locks belong to open files, so a second Lock in this process
	// conflicts like a second nodeup would.
	_, err = h.Lock(ctx, false, nil)
	want := fmt.Sprintf("another nodeup (pid %d) holds /run/nodeup.lock; wait for it or pass --wait", os.Getpid())
	if err == nil || err.Error() != want || !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want %q", err, want)
	}

	// wait=true gives up when the context does.
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if _, err := h.Lock(short, true, nil); !errors.Is(err, ErrLocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with deadline: %v", err)
	}

	// wait=true says it waits, and for whom, then gets the lock once it
	// is released.
	got := make(chan error, 1)
	waiting := make(chan int, 1)
	go func() {
		rel, err := h.Lock(ctx, true, func(holder int) { waiting <- holder })
		if err == nil {
			err = rel()
		}
		got <- err
	}()
	if holder := <-waiting; holder != os.Getpid() {
		t.Errorf("the waiter waits for pid %d, want %d", holder, os.Getpid())
	}
	select {
	case err := <-got:
		t.Fatalf("waiter returned while the lock was held: %v", err)
	default:
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestBackup(t *testing.T) {
	h, root := newHost(t)
	const p = "/etc/containerd/config.toml"
	if got, err := h.Backup(p); err != nil || got != "" {
		t.Fatalf("backup of a missing file: %q %v", got, err)
	}
	h.WriteFile(p, []byte("distro config\n"), 0o640)
	b1, err := h.Backup(p)
	if err != nil || b1 != "/var/lib/nodeup/backup/etc/containerd/config.toml" {
		t.Fatalf("backup: %q %v", b1, err)
	}
	if b, _ := h.ReadFile(b1); string(b) != "distro config\n" {
		t.Errorf("backup content %q", b)
	}
	if fi, _ := h.Stat(b1); fi.Mode().Perm() != 0o640 {
		t.Errorf("backup mode %v", fi.Mode())
	}
	h.WriteFile(p, []byte("edited\n"), 0o644)
	b2, err := h.Backup(p)
	if err != nil || !strings.HasPrefix(b2, b1+".") {
		t.Fatalf("second backup: %q %v, want a timestamp suffix", b2, err)
	}
	b3, err := h.Backup(p)
	if err != nil || b3 == b2 || b3 == b1 {
		t.Fatalf("third backup in the same second: %q %v", b3, err)
	}
	if b, _ := h.ReadFile(b1); string(b) != "distro config\n" {
		t.Errorf("first backup overwritten: %q", b)
	}
	assertNoTemp(t, root)
}

func TestExchangeRenameLink(t *testing.T) {
	h, root := newHost(t)
	h.WriteFile("/opt/kata/bin/shim", []byte("old"), 0o755)
	h.WriteFile("/opt/.stage/bin/shim", []byte("new"), 0o755)
	if err := h.Exchange("/opt/.stage", "/opt/kata"); err != nil {
		if !errors.Is(err, ErrExchangeUnsupported) {
			t.Fatal(err)
		}
		t.Skip("filesystem cannot exchange")
	}
	if read, _ := h.ReadFile("/opt/kata/bin/shim"); string(read) != "new" {
		t.Errorf("after exchange /opt/kata holds %q", read)
	}
	if read, _ := h.ReadFile("/opt/.stage/bin/shim"); string(read) != "old" {
		t.Errorf("after exchange the stage holds %q", read)
	}
	if err := h.Link("/opt/kata/bin/shim", "/opt/kata/bin/runtime"); err != nil {
		t.Fatal(err)
	}
	a, _ := h.Stat("/opt/kata/bin/shim")
	b, _ := h.Stat("/opt/kata/bin/runtime")
	if !os.SameFile(a, b) {
		t.Error("Link made no hard link")
	}
	if err := h.Rename("/opt/kata/bin/runtime", "/opt/kata/bin/shim2"); err != nil {
		t.Fatal(err)
	}
	err := h.Rename("/opt/missing", "/opt/x")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "rename /opt/missing to /opt/x") {
		t.Errorf("rename error %v", err)
	}
	assertNoTemp(t, root)
}

// render --out writes through a Host from NewOut: "" and this machine's
// "/", however spelled or linked, are refused; a missing directory is
// created.
func TestNewOut(t *testing.T) {
	if _, err := NewOut(""); err == nil || !strings.Contains(err.Error(), "the output directory is empty; pass a directory") {
		t.Errorf("empty: %v", err)
	}
	link := filepath.Join(t.TempDir(), "slash")
	mustSymlink(t, "/", link)
	for _, dir := range []string{"/", "//", "/etc/..", link} {
		if _, err := NewOut(dir); err == nil || !strings.Contains(err.Error(), "is this machine's /; pass another directory") {
			t.Errorf("%s: %v", dir, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "a/b")
	h, err := NewOut(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || h.Root() != dir {
		t.Errorf("not created: %v %v", fi, err)
	}
}
