package host

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Chmod sets the mode of node path p, following symlinks within the root.
func (h *Host) Chmod(p string, mode fs.FileMode) error {
	_, err := on(h, "chmod", p, readFlags, func(f *os.File) (struct{}, error) { return struct{}{}, f.Chmod(mode) })
	return err
}

// Chown sets the owner of node path p, following symlinks within the root.
// Numeric ids are the node's: under --root they are the image's ids.
func (h *Host) Chown(p string, uid, gid int) error {
	_, err := on(h, "chown", p, unix.O_PATH, func(f *os.File) (struct{}, error) {
		return struct{}{}, unix.Fchownat(int(f.Fd()), "", uid, gid, unix.AT_EMPTY_PATH)
	})
	return err
}

// Remove removes node path p itself (a file, a symlink, an empty directory).
// A path that does not exist is not an error.
func (h *Host) Remove(p string) error {
	return missingOK(in(h, "remove", p, false, unlink))
}

// unlink removes name in dir: a file, a symlink or an empty directory; a
// name that does not exist is not an error.
func unlink(dir int, name string) error {
	err := unix.Unlinkat(dir, name, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(dir, name, unix.AT_REMOVEDIR)
	}
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// RemoveAll removes node path p and everything below it; symlinks inside are
// removed, never followed. It refuses to remove "/".
func (h *Host) RemoveAll(p string) error {
	if clean, err := nodePath(p); err == nil && clean == "/" {
		return h.fail("remove", p, errors.New("refusing to remove the root directory"))
	}
	return missingOK(in(h, "remove", p, false, removeAllAt))
}

// missingOK drops the error of a removal whose parent directory is missing:
// there is nothing to remove.
func missingOK(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// removeAllAt removes name in dir and, for a directory, everything in it,
// opening each directory relative to its parent without following links.
func removeAllAt(dir int, name string) error {
	err := unix.Unlinkat(dir, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	for {
		names, err := d.Readdirnames(1024)
		if len(names) == 0 {
			if err != nil && err != io.EOF {
				return err
			}
			break
		}
		for _, n := range names {
			if err := removeAllAt(fd, n); err != nil {
				return err
			}
		}
		// Entries were removed under the reader: start again.
		if _, err := d.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	err = unix.Unlinkat(dir, name, unix.AT_REMOVEDIR)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// both runs fn with the directories holding node paths oldpath and newpath
// and their final components; op names oldpath, the error adds newpath.
func both(h *Host, op, oldpath, newpath string, fn func(od int, ob string, nd int, nb string) error) error {
	clean, err := nodePath(oldpath)
	if err != nil {
		return err
	}
	od, ob, err := h.parent(clean)
	if err != nil {
		return h.fail(op, newpath, err)
	}
	defer od.Close()
	return in(h, op, newpath, false, func(nd int, nb string) error {
		if err := fn(int(od.Fd()), ob, nd, nb); err != nil {
			return err
		}
		return unix.Fsync(nd)
	})
}

// Rename renames node path oldpath to newpath atomically (rename(2)); a file
// or symlink at newpath is replaced, never written through. Both must be on
// the same filesystem.
func (h *Host) Rename(oldpath, newpath string) error {
	return both(h, "rename "+oldpath+" to", oldpath, newpath, func(od int, ob string, nd int, nb string) error {
		return unix.Renameat(od, ob, nd, nb)
	})
}

// Link creates newpath as a hard link to the file oldpath (neither followed
// if it is a symlink).
func (h *Host) Link(oldpath, newpath string) error {
	return both(h, "link "+oldpath+" as", oldpath, newpath, func(od int, ob string, nd int, nb string) error {
		return unix.Linkat(od, ob, nd, nb, 0)
	})
}

// Symlink makes node path p a symlink to target, atomically: a temporary
// link next to p is renamed over it, so p is at every moment the old entry
// or the new link. Missing parent directories are created (0755). The target
// is written as given; it is interpreted on the node.
func (h *Host) Symlink(target, p string) error {
	return in(h, "symlink", p, true, func(dir int, base string) error {
		var tmp string
		var err error
		for range 100 {
			tmp = tempName(base)
			err = unix.Symlinkat(target, dir, tmp)
			if !errors.Is(err, unix.EEXIST) {
				break
			}
		}
		if err != nil {
			return err
		}
		if err := unix.Renameat(dir, tmp, dir, base); err != nil {
			unix.Unlinkat(dir, tmp, 0)
			return err
		}
		return unix.Fsync(dir)
	})
}

// SyncFS flushes the whole filesystem holding node path p to disk: one call
// instead of an fsync per file after unpacking a tree.
func (h *Host) SyncFS(p string) error {
	_, err := on(h, "sync", p, readFlags, func(f *os.File) (struct{}, error) {
		return struct{}{}, unix.Syncfs(int(f.Fd()))
	})
	return err
}

// ErrExchangeUnsupported is returned (wrapped) by Exchange when the
// filesystem cannot swap two paths atomically; fall back to two renames.
var ErrExchangeUnsupported = errors.New("atomic exchange not supported by this filesystem")

// Exchange atomically swaps node paths a and b (renameat2 RENAME_EXCHANGE):
// there is no moment when either is missing. Both must exist on the same
// filesystem; neither final component is followed.
func (h *Host) Exchange(a, b string) error {
	return both(h, "exchange "+a+" with", a, b, func(ad int, ab string, bd int, bb string) error {
		err := unix.Renameat2(ad, ab, bd, bb, unix.RENAME_EXCHANGE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
			return ErrExchangeUnsupported
		}
		return err
	})
}
