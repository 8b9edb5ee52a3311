package host

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// AtomicFile is a file being written in place of a node path. The bytes go
// to a temporary file in the same directory, named TempPrefix+name+random;
// Commit syncs it, sets its mode, closes it, renames it over the path and
// syncs the directory. Until Commit returns, readers of the path see the old
// file (or none); after, the new one; a crash at any moment leaves one or the
// other, never a mix, plus at most a recognisable temporary file. Replacing a
// running binary works: the old inode lives on until the process exits.
//
// The new file belongs to the user running nodeup (root); the owner of a
// replaced file is not carried over. Modeled on containerd's pkg/atomicfile.
type AtomicFile struct {
	h    *Host
	node string   // the node path being replaced
	dir  *os.File // the directory holding it, opened inside the root
	base string   // its name in dir
	tmp  string   // the temporary file's name in dir
	f    *os.File
	mode fs.FileMode
	done bool
	// synced: Sync flushed everything written, so Commit need not again.
	synced bool
}

// Create starts an AtomicFile for node path p with the given mode. Missing
// parent directories are created (0755). A symlink at p is replaced, not
// followed. Call Commit to install it, or Cancel to drop it.
func (h *Host) Create(p string, mode fs.FileMode) (*AtomicFile, error) {
	clean, err := nodePath(p)
	if err != nil {
		return nil, err
	}
	if clean == "/" {
		return nil, h.fail("write", p, unix.EISDIR)
	}
	if err := h.mkdirAll(path.Dir(clean), 0o755); err != nil {
		return nil, h.fail("create directory for", p, err)
	}
	dir, base, err := h.parent(clean)
	if err != nil {
		return nil, h.fail("write", p, err)
	}
	f, tmp, err := TempIn(dir, base)
	if err != nil {
		dir.Close()
		return nil, h.fail("write", p, err)
	}
	return &AtomicFile{h: h, node: p, dir: dir, base: base, tmp: tmp, f: f, mode: mode}, nil
}

// TempIn creates a temporary file for name in the open directory dir
// (TempPrefix+name+random, 0600, following no link), the first half of an
// atomic write; CommitCheckedIn is the second. It returns the file and its name.
func TempIn(dir *os.File, name string) (*os.File, string, error) {
	for range 100 {
		tmp := tempName(name)
		fd, err := unix.Openat(int(dir.Fd()), tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return os.NewFile(uintptr(fd), tmp), tmp, nil
	}
	return nil, "", unix.EEXIST
}

// CommitCheckedIn finishes an atomic write begun with TempIn, for a file
// whose every reader checks its content first (a cache entry named by its
// sha256): it sets f's mode, closes it and renames tmp over name in dir. On
// an error before the rename, tmp is removed and name keeps its old content.
// Nothing is synced, so a crash may leave name short or empty, and its next
// reader finds it wrong and fetches it again. Readers never see a partial
// file while nodeup runs.
func CommitCheckedIn(dir, f *os.File, tmp, name string, mode fs.FileMode) error {
	return commitIn(dir, f, tmp, name, mode, false, false)
}

// commitIn finishes an atomic write, with the file's sync (syncFile: not done already)
// and the directory's (syncDir: the rename must survive a crash) chosen.
func commitIn(dir, f *os.File, tmp, name string, mode fs.FileMode, syncFile, syncDir bool) error {
	d := int(dir.Fd())
	var err error
	if syncFile {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(d, tmp, d, name)
	}
	if err != nil {
		unix.Unlinkat(d, tmp, 0)
		return err
	}
	if !syncDir {
		return nil
	}
	return unix.Fsync(d)
}

// Write writes to the temporary file.
func (a *AtomicFile) Write(b []byte) (int, error) {
	a.synced = false
	n, err := a.f.Write(b)
	if err != nil {
		return n, a.h.fail("write", a.node, err)
	}
	return n, nil
}

// Sync flushes what was written so far to the disk, so that Commit need
// not: syncing many staged files at once (several in flight, not one after
// another) leaves each Commit only its rename and its directory's sync.
func (a *AtomicFile) Sync() error {
	if err := a.f.Sync(); err != nil {
		return a.h.fail("sync", a.node, err)
	}
	a.synced = true
	return nil
}

// Commit installs the file at its node path (see AtomicFile). On any error
// the temporary file is removed and the path keeps its old content.
func (a *AtomicFile) Commit() error {
	if a.done {
		return a.h.fail("write", a.node, fs.ErrClosed)
	}
	a.done = true
	defer a.dir.Close()
	if err := commitIn(a.dir, a.f, a.tmp, a.base, a.mode, !a.synced, true); err != nil {
		return a.h.fail("write", a.node, err)
	}
	return nil
}

// Cancel drops the temporary file. It is a no-op after Commit, so
// `defer f.Cancel()` is the idiom.
func (a *AtomicFile) Cancel() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	unix.Unlinkat(int(a.dir.Fd()), a.tmp, 0)
	a.dir.Close()
}

// WriteFile replaces node file p with data and mode atomically (see
// AtomicFile): sync, rename, sync the directory; the old file or the new,
// never a partial one, and no temporary file left on error. Missing parent
// directories are created (0755).
func (h *Host) WriteFile(p string, data []byte, mode fs.FileMode) error {
	a, err := h.Create(p, mode)
	if err != nil {
		return err
	}
	defer a.Cancel()
	if _, err := a.Write(data); err != nil {
		return err
	}
	return a.Commit()
}

// InstallFile is WriteFile for streamed content (binaries): r is copied to a
// temporary file and renamed over p only when r is read to its end without
// error. A running binary at p keeps running from the old inode.
func (h *Host) InstallFile(p string, r io.Reader, mode fs.FileMode) error {
	a, err := h.Create(p, mode)
	if err != nil {
		return err
	}
	defer a.Cancel()
	if _, err := io.Copy(a.f, r); err != nil {
		return h.fail("write", p, err)
	}
	return a.Commit()
}
