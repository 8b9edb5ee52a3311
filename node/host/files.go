package host

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/nodeup/nodeup/node/digest"
	"golang.org/x/sys/unix"
)

// at resolves node path p (following a symlink in the final component when
// follow is set) and runs fn on the real path, wrapping its error for p.
func at[T any](h *Host, op, p string, follow bool, fn func(real string) (T, error)) (T, error) {
	var zero T
	resolve := h.lpath
	if follow {
		resolve = h.Path
	}
	real, err := resolve(p)
	if err != nil {
		return zero, err
	}
	v, err := fn(real)
	if err != nil {
		return zero, h.fail(op, p, err)
	}
	return v, nil
}

// do is at for operations that return only an error.
func do(h *Host, op, p string, follow bool, fn func(real string) error) error {
	_, err := at(h, op, p, follow, func(real string) (struct{}, error) { return struct{}{}, fn(real) })
	return err
}

// ReadFile returns the contents of node file p, following symlinks within
// the root.
func (h *Host) ReadFile(p string) ([]byte, error) { return at(h, "read", p, true, os.ReadFile) }

// SHA256 returns the hex sha256 of node file p, following symlinks within
// the root.
func (h *Host) SHA256(p string) (string, error) {
	return at(h, "read", p, true, digest.File)
}

// ReadDir lists node directory p, sorted by name.
func (h *Host) ReadDir(p string) ([]fs.DirEntry, error) {
	return at(h, "read directory", p, true, os.ReadDir)
}

// Stat describes node path p, following symlinks within the root.
func (h *Host) Stat(p string) (fs.FileInfo, error) { return at(h, "stat", p, true, os.Stat) }

// Lstat describes node path p itself: a symlink there is not followed.
func (h *Host) Lstat(p string) (fs.FileInfo, error) { return at(h, "stat", p, false, os.Lstat) }

// Readlink returns the target of symlink p as written in the link.
func (h *Host) Readlink(p string) (string, error) { return at(h, "readlink", p, false, os.Readlink) }

// MkdirAll creates node directory p and its missing parents with mode
// (before umask). Existing directories keep their mode.
func (h *Host) MkdirAll(p string, mode fs.FileMode) error {
	return do(h, "create directory", p, true, func(real string) error { return os.MkdirAll(real, mode) })
}

// MkdirTemp creates a new directory in node directory dir, named by pattern
// as os.MkdirTemp does, and returns its node path.
func (h *Host) MkdirTemp(dir, pattern string) (string, error) {
	real, err := h.Path(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(real, 0o755); err != nil {
		return "", h.fail("create directory", dir, err)
	}
	d, err := os.MkdirTemp(real, pattern)
	if err != nil {
		return "", h.fail("create directory in", dir, err)
	}
	return path.Join(path.Clean(dir), filepath.Base(d)), nil
}

// Chmod sets the mode of node path p, following symlinks within the root.
func (h *Host) Chmod(p string, mode fs.FileMode) error {
	return do(h, "chmod", p, true, func(real string) error { return os.Chmod(real, mode) })
}

// Chown sets the owner of node path p, following symlinks within the root.
// Numeric ids are the node's: under --root they are the image's ids.
func (h *Host) Chown(p string, uid, gid int) error {
	return do(h, "chown", p, true, func(real string) error { return os.Chown(real, uid, gid) })
}

// Remove removes node path p itself (a file, a symlink, an empty directory).
// A path that does not exist is not an error.
func (h *Host) Remove(p string) error {
	return do(h, "remove", p, false, func(real string) error {
		if err := os.Remove(real); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// RemoveAll removes node path p and everything below it; symlinks inside are
// removed, never followed. It refuses to remove "/".
func (h *Host) RemoveAll(p string) error {
	return do(h, "remove", p, false, func(real string) error {
		if real == h.root {
			return errors.New("refusing to remove the root directory")
		}
		return os.RemoveAll(real)
	})
}

// both resolves two node paths without following their final components
// and runs fn on the real paths; op names oldpath, the error adds newpath.
func both(h *Host, op, oldpath, newpath string, fn func(ro, rn string) error) error {
	ro, err := h.lpath(oldpath)
	if err != nil {
		return err
	}
	return do(h, op, newpath, false, func(rn string) error { return fn(ro, rn) })
}

// Rename renames node path oldpath to newpath atomically (rename(2)); a file
// or symlink at newpath is replaced, never written through. Both must be on
// the same filesystem.
func (h *Host) Rename(oldpath, newpath string) error {
	return both(h, "rename "+oldpath+" to", oldpath, newpath, func(ro, rn string) error {
		if err := os.Rename(ro, rn); err != nil {
			return err
		}
		return syncDir(filepath.Dir(rn))
	})
}

// Link creates newpath as a hard link to the file oldpath (neither followed
// if it is a symlink).
func (h *Host) Link(oldpath, newpath string) error {
	return both(h, "link "+oldpath+" as", oldpath, newpath, os.Link)
}

// Symlink makes node path p a symlink to target, atomically: a temporary
// link next to p is renamed over it, so p is at every moment the old entry
// or the new link. Missing parent directories are created (0755). The target
// is written as given; it is interpreted on the node.
func (h *Host) Symlink(target, p string) error {
	real, err := h.lpath(p)
	if err != nil {
		return err
	}
	dir := filepath.Dir(real)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return h.fail("create directory for", p, err)
	}
	var tmp string
	for range 100 {
		tmp = filepath.Join(dir, tempName(filepath.Base(real)))
		err = os.Symlink(target, tmp)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return h.fail("symlink", p, err)
	}
	if err := os.Rename(tmp, real); err != nil {
		os.Remove(tmp)
		return h.fail("symlink", p, err)
	}
	return syncDir(dir)
}

// TempPrefix starts the name of every temporary file nodeup creates next to
// the file it replaces, so a leftover from a killed run is recognisable.
const TempPrefix = ".nodeup-tmp-"

func tempName(base string) string {
	if len(base) > 100 {
		base = base[:100]
	}
	var b [6]byte
	rand.Read(b[:])
	return TempPrefix + base + "-" + hex.EncodeToString(b[:])
}

// syncDir fsyncs a directory so a rename in it survives a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, unwrapPathError(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, unwrapPathError(err))
	}
	return nil
}

// OpenFile opens node path p like os.OpenFile; a symlink in the final
// component is refused (O_NOFOLLOW), so a file is never opened through one.
// Use it to fill a directory nodeup has just created (an unpack staging
// directory); replace existing files with WriteFile or Create.
func (h *Host) OpenFile(p string, flag int, perm fs.FileMode) (*os.File, error) {
	return at(h, "open", p, false, func(real string) (*os.File, error) {
		return os.OpenFile(real, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	})
}

// SyncFS flushes the whole filesystem holding node path p to disk: one call
// instead of an fsync per file after unpacking a tree.
func (h *Host) SyncFS(p string) error {
	return do(h, "sync", p, true, func(real string) error {
		f, err := os.Open(real)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Syncfs(int(f.Fd()))
	})
}

// ErrExchangeUnsupported is returned (wrapped) by Exchange when the
// filesystem cannot swap two paths atomically; fall back to two renames.
var ErrExchangeUnsupported = errors.New("atomic exchange not supported by this filesystem")

// Exchange atomically swaps node paths a and b (renameat2 RENAME_EXCHANGE):
// there is no moment when either is missing. Both must exist on the same
// filesystem; neither final component is followed.
func (h *Host) Exchange(a, b string) error {
	return both(h, "exchange "+a+" with", a, b, func(ra, rb string) error {
		err := unix.Renameat2(unix.AT_FDCWD, ra, unix.AT_FDCWD, rb, unix.RENAME_EXCHANGE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
			return ErrExchangeUnsupported
		}
		if err != nil {
			return err
		}
		return syncDir(filepath.Dir(rb))
	})
}
