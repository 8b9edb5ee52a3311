package host

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/nodeup/nodeup/node/digest"
	"golang.org/x/sys/unix"
)

// MaxReadSize bounds what ReadFile reads: nodeup reads configuration and
// its own state this way, never anything near this size.
const MaxReadSize = 64 << 20

// ErrNotRegular is the class of the error for a read of something that is
// not a regular file (a fifo, a device, a socket, a directory).
var ErrNotRegular = errors.New("not a regular file")

// open opens node path p inside the root: every symlink on the way,
// absolute or "..", is resolved as if the root were "/", by the kernel
// (openat2 RESOLVE_IN_ROOT) or by walk. O_NOFOLLOW in flags keeps a
// symlink in the final component from being followed. The error is the
// bare cause; callers wrap it for p.
func (h *Host) open(clean string, flags int, mode fs.FileMode) (*os.File, error) {
	root, err := unix.Open(h.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	fd, err := openAt(root, strings.TrimPrefix(clean, "/"), inRoot, flags, uint32(mode.Perm()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), clean), nil
}

// parent opens the directory holding node path clean (its symlinks
// resolved inside the root) and returns it with clean's final component,
// which the caller acts on itself, never through a symlink.
func (h *Host) parent(clean string) (*os.File, string, error) {
	if clean == "/" {
		return nil, "", errors.New("it is the root directory")
	}
	dir, base := path.Split(clean)
	f, err := h.open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	return f, base, err
}

// on opens node path p with flags and runs fn on it, wrapping any error
// for p with op.
func on[T any](h *Host, op, p string, flags int, fn func(f *os.File) (T, error)) (T, error) {
	var zero T
	clean, err := nodePath(p)
	if err != nil {
		return zero, err
	}
	f, err := h.open(clean, flags, 0)
	if err != nil {
		return zero, h.fail(op, p, err)
	}
	defer f.Close()
	v, err := fn(f)
	if err != nil {
		return zero, h.fail(op, p, err)
	}
	return v, nil
}

// in runs fn with the directory holding node path p and p's final
// component, wrapping any error for p with op. With mkdir set, missing
// parent directories are created first (0755).
func in(h *Host, op, p string, mkdir bool, fn func(dir int, base string) error) error {
	clean, err := nodePath(p)
	if err != nil {
		return err
	}
	if mkdir && clean != "/" {
		if err := h.mkdirAll(path.Dir(clean), 0o755); err != nil {
			return h.fail("create directory for", p, err)
		}
	}
	dir, base, err := h.parent(clean)
	if err != nil {
		return h.fail(op, p, err)
	}
	defer dir.Close()
	if err := fn(int(dir.Fd()), base); err != nil {
		return h.fail(op, p, err)
	}
	return nil
}

// readRegular reads a regular file of at most max bytes.
func readRegular(f *os.File, max int64) ([]byte, error) {
	if err := regular(f); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		if max < 1<<20 {
			return nil, fmt.Errorf("it is larger than %d KiB, more than nodeup reads there; move it away", max>>10)
		}
		return nil, fmt.Errorf("it is larger than %d MiB, more than nodeup reads", max>>20)
	}
	return b, nil
}

// regular fails with ErrNotRegular unless f is a regular file.
func regular(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: it is a %s; move it away", ErrNotRegular, KindOf(fi.Mode()))
	}
	return nil
}

// Files are opened without blocking (a fifo would wait for a writer) and
// without becoming the controlling terminal.
const readFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY

// ReadFile returns the contents of node file p, following symlinks within
// the root. Only a regular file of at most MaxReadSize bytes is read; a
// fifo, device or socket is refused at once, without blocking.
func (h *Host) ReadFile(p string) ([]byte, error) {
	return on(h, "read", p, readFlags, func(f *os.File) ([]byte, error) { return readRegular(f, MaxReadSize) })
}

// ReadFileMax is ReadFile with a smaller bound: only a regular file of at
// most max bytes is read, so a file an image makes huge (a sparse file of
// gigabytes) costs nothing; a larger one is an error naming it.
func (h *Host) ReadFileMax(p string, max int64) ([]byte, error) {
	return on(h, "read", p, readFlags, func(f *os.File) ([]byte, error) { return readRegular(f, min(max, MaxReadSize)) })
}

// SHA256 returns the hex sha256 of node file p, following symlinks within
// the root; p must be a regular file.
func (h *Host) SHA256(p string) (string, error) {
	return on(h, "read", p, readFlags, func(f *os.File) (string, error) {
		if err := regular(f); err != nil {
			return "", err
		}
		return digest.Reader(f)
	})
}

// ReadDir lists node directory p, sorted by name.
func (h *Host) ReadDir(p string) ([]fs.DirEntry, error) {
	return on(h, "read directory", p, unix.O_RDONLY|unix.O_DIRECTORY, func(f *os.File) ([]fs.DirEntry, error) {
		es, err := f.ReadDir(-1)
		sort.Slice(es, func(i, j int) bool { return es[i].Name() < es[j].Name() })
		return es, err
	})
}

// Stat describes node path p, following symlinks within the root.
func (h *Host) Stat(p string) (fs.FileInfo, error) {
	return on(h, "stat", p, unix.O_PATH, (*os.File).Stat)
}

// Lstat describes node path p itself: a symlink there is not followed.
func (h *Host) Lstat(p string) (fs.FileInfo, error) {
	return on(h, "stat", p, unix.O_PATH|unix.O_NOFOLLOW, (*os.File).Stat)
}

// Readlink returns the target of symlink p as written in the link.
func (h *Host) Readlink(p string) (string, error) {
	var target string
	err := in(h, "readlink", p, false, func(dir int, base string) error {
		var err error
		target, err = readlinkat(dir, base)
		return err
	})
	return target, err
}

// MkdirAll creates node directory p and its missing parents with mode
// (before umask). Existing directories keep their mode.
func (h *Host) MkdirAll(p string, mode fs.FileMode) error {
	clean, err := nodePath(p)
	if err != nil {
		return err
	}
	if err := h.mkdirAll(clean, mode); err != nil {
		return h.fail("create directory", p, err)
	}
	return nil
}

func (h *Host) mkdirAll(clean string, mode fs.FileMode) error {
	if f, err := h.open(clean, unix.O_PATH|unix.O_DIRECTORY, 0); err == nil {
		return f.Close()
	}
	// Where the symlinks lead now; the missing directories are made there,
	// each in the directory before it opened inside the root.
	rel, err := resolve(h.root, clean, false)
	if err != nil {
		return err
	}
	cur := "/"
	for _, comp := range strings.Split(rel, "/") {
		if comp == "" {
			continue
		}
		next := path.Join(cur, comp)
		f, err := h.open(next, unix.O_PATH|unix.O_DIRECTORY, 0)
		if errors.Is(err, unix.ENOENT) {
			dir, derr := h.open(cur, unix.O_PATH|unix.O_DIRECTORY, 0)
			if derr != nil {
				return derr
			}
			err = unix.Mkdirat(int(dir.Fd()), comp, uint32(mode.Perm()))
			dir.Close()
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
			f, err = h.open(next, unix.O_PATH|unix.O_DIRECTORY, 0)
		}
		if err != nil {
			return err
		}
		f.Close()
		cur = next
	}
	return nil
}

// MkdirTemp creates a new directory (0700) in node directory dir, named by
// pattern as os.MkdirTemp does, and returns its node path.
func (h *Host) MkdirTemp(dir, pattern string) (string, error) {
	clean, err := nodePath(dir)
	if err != nil {
		return "", err
	}
	if err := h.mkdirAll(clean, 0o755); err != nil {
		return "", h.fail("create directory", dir, err)
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	var name string
	err = in(h, "create directory in", path.Join(clean, "x"), false, func(d int, _ string) error {
		for range 100 {
			name = prefix + randomSuffix() + suffix
			err := unix.Mkdirat(d, name, 0o700)
			if !errors.Is(err, unix.EEXIST) {
				return err
			}
		}
		return unix.EEXIST
	})
	if err != nil {
		return "", err
	}
	return path.Join(clean, name), nil
}

// TempPrefix starts the name of every temporary file nodeup creates next to
// the file it replaces, so a leftover from a killed run is recognisable.
const TempPrefix = ".nodeup-tmp-"

func tempName(base string) string {
	if len(base) > 100 {
		base = base[:100]
	}
	return TempPrefix + base + "-" + randomSuffix()
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// OpenFile opens node path p like os.OpenFile; a symlink in the final
// component is refused (O_NOFOLLOW), so a file is never opened through one.
// Use it to fill a directory nodeup has just created (an unpack staging
// directory); replace existing files with WriteFile or Create.
func (h *Host) OpenFile(p string, flag int, perm fs.FileMode) (*os.File, error) {
	var f *os.File
	err := in(h, "open", p, false, func(dir int, base string) error {
		fd, err := unix.Openat(dir, base, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), p)
		return nil
	})
	return f, err
}
