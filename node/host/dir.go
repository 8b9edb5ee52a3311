package host

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is a directory below the root that nodeup fills itself, such as the
// staging directory an archive tree is unpacked into. Its methods take paths
// relative to it and follow no symlink in any component (openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or the equivalent walk): whatever
// names an archive holds, nothing is created, changed or removed outside
// the directory, and nothing through a link. Close it when done.
type Dir struct {
	h    *Host
	node string   // the directory's node path
	f    *os.File // the directory, opened inside the root
}

// OpenDir opens node directory p (which must not be a symlink itself).
func (h *Host) OpenDir(p string) (*Dir, error) {
	clean, err := nodePath(p)
	if err != nil {
		return nil, err
	}
	f, err := h.open(clean, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, h.fail("open directory", p, err)
	}
	return &Dir{h: h, node: clean, f: f}, nil
}

// OpenOwnDir opens node directory p following no symlink in any of its
// components (from the root down): a directory that is nodeup's own (its
// cache, a tree it installs) is reached only as nodeup made it, so a link
// someone put in the way, at any depth, is refused (ELOOP), never
// followed. A missing directory is fs.ErrNotExist.
func (h *Host) OpenOwnDir(p string) (*Dir, error) {
	clean, err := nodePath(p)
	if err != nil {
		return nil, err
	}
	root, err := unix.Open(h.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, h.fail("open directory", p, err)
	}
	defer unix.Close(root)
	fd, err := openAt(root, strings.TrimPrefix(clean, "/"), noLinks, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, h.fail("open directory", p, err)
	}
	return &Dir{h: h, node: clean, f: os.NewFile(uintptr(fd), clean)}, nil
}

// ReadDir lists directory rel ("." for the directory itself), sorted by
// name, following no symlink.
func (d *Dir) ReadDir(rel string) ([]fs.DirEntry, error) {
	f, err := d.open(path.Clean(rel), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, d.fail("read directory", rel, err)
	}
	defer f.Close()
	es, err := f.ReadDir(-1)
	if err != nil {
		return nil, d.fail("read directory", rel, err)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name() < es[j].Name() })
	return es, nil
}

// Lstat describes rel itself; a symlink there is not followed.
func (d *Dir) Lstat(rel string) (fs.FileInfo, error) {
	f, err := d.open(path.Clean(rel), unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, d.fail("stat", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, d.fail("stat", rel, err)
	}
	return fi, nil
}

// Node is the directory's node path.
func (d *Dir) Node() string { return d.node }

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

func (d *Dir) fail(op, rel string, err error) error {
	return d.h.fail(op, path.Join(d.node, rel), err)
}

// open opens rel below the directory, following no symlink.
func (d *Dir) open(rel string, flags int, mode fs.FileMode) (*os.File, error) {
	fd, err := openAt(int(d.f.Fd()), rel, noLinks, flags, uint32(mode.Perm()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path.Join(d.node, rel)), nil
}

// in runs fn with the directory holding rel, opened without following a
// symlink, and rel's final component.
func (d *Dir) in(op, rel string, fn func(dir int, base string) error) error {
	rel = path.Clean(rel)
	if rel == "." || path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return d.fail(op, rel, unix.EINVAL)
	}
	parent, err := d.open(path.Dir(rel), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return d.fail(op, rel, err)
	}
	defer parent.Close()
	if err := fn(int(parent.Fd()), path.Base(rel)); err != nil {
		return d.fail(op, rel, err)
	}
	return nil
}

// MkdirAll creates directory rel and its missing parents with mode.
func (d *Dir) MkdirAll(rel string, mode fs.FileMode) error {
	cur := "."
	for _, comp := range strings.Split(path.Clean(rel), "/") {
		if comp == "." || comp == "" {
			continue
		}
		next := path.Join(cur, comp)
		err := d.in("create directory", next, func(dir int, base string) error {
			err := unix.Mkdirat(dir, base, uint32(mode.Perm()))
			if errors.Is(err, unix.EEXIST) {
				// Only a real directory will do; a symlink or a file there
				// is an error, never followed.
				var st unix.Stat_t
				if err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					return err
				}
				if st.Mode&unix.S_IFMT != unix.S_IFDIR {
					return unix.ENOTDIR
				}
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		cur = next
	}
	return nil
}

// Create creates the new file rel (it must not exist) for writing.
func (d *Dir) Create(rel string, mode fs.FileMode) (*os.File, error) {
	var f *os.File
	err := d.in("create", rel, func(dir int, base string) error {
		fd, err := unix.Openat(dir, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), path.Join(d.node, rel))
		return nil
	})
	return f, err
}

// Symlink creates rel as a symlink to target (written as given).
func (d *Dir) Symlink(target, rel string) error {
	return d.in("symlink", rel, func(dir int, base string) error { return unix.Symlinkat(target, dir, base) })
}

// Link creates newrel as a hard link to oldrel; neither is followed.
func (d *Dir) Link(oldrel, newrel string) error {
	return d.in("link "+path.Join(d.node, oldrel)+" as", newrel, func(nd int, nb string) error {
		return d.in("link", oldrel, func(od int, ob string) error { return unix.Linkat(od, ob, nd, nb, 0) })
	})
}

// Remove removes rel itself (a file, a symlink, an empty directory); a rel
// that does not exist is not an error.
func (d *Dir) Remove(rel string) error { return d.in("remove", rel, unlink) }

// Chmod sets the mode of rel ("." for the directory itself); a symlink is
// an error, never followed.
func (d *Dir) Chmod(rel string, mode fs.FileMode) error {
	f, err := d.open(path.Clean(rel), readFlags, 0)
	if err != nil {
		return d.fail("chmod", rel, err)
	}
	defer f.Close()
	if err := f.Chmod(mode); err != nil {
		return d.fail("chmod", rel, err)
	}
	return nil
}

// Symlinks lists every symlink below the directory, as relative paths in
// name order, read from the disk (not from what was put there).
func (d *Dir) Symlinks() ([]string, error) {
	var out []string
	var scan func(rel string) error
	scan = func(rel string) error {
		f, err := d.open(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return d.fail("read directory", rel, err)
		}
		defer f.Close()
		for {
			es, err := f.ReadDir(1024)
			for _, e := range es {
				p := path.Join(rel, e.Name())
				switch {
				case e.Type()&fs.ModeSymlink != 0:
					out = append(out, p)
				case e.IsDir():
					if err := scan(p); err != nil {
						return err
					}
				}
			}
			if err == io.EOF || (err == nil && len(es) == 0) {
				return nil
			}
			if err != nil {
				return d.fail("read directory", rel, err)
			}
		}
	}
	if err := scan("."); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}
