// Package host is the one way nodeup touches a node's filesystem. A Host
// carries the root directory (--root, "/" by default) and takes absolute
// node paths: "/etc/containerd/config.toml" means that file as the node sees
// it, wherever the root is.
//
// Every node path is resolved inside the root the way Ignition's JoinPath
// and filepath-securejoin do it: symlinks are followed as if the root were
// "/", so an absolute or ".." symlink inside an image, at any depth, can
// never lead a read or a write out of the image. Files and directories are
// opened by the kernel with openat2(RESOLVE_IN_ROOT) where it has it, and
// one component at a time relative to the directory before it (O_NOFOLLOW)
// where it does not; the operations that create, rename or remove act on a
// directory opened that way, so a symlink swapped into a path while nodeup
// runs cannot lead it outside either. The input path is cleaned lexically
// first ("/a/b/.." is "/a").
//
// Methods that read (ReadFile, Stat, ReadDir) follow a symlink in the final
// component, within the root. Methods that create, replace or remove a path
// (WriteFile, InstallFile, Symlink, Link, Rename, Remove, RemoveAll, Lstat)
// act on the final component itself, the way rename(2) does: a symlink there
// is replaced or removed, never written through. Path and ResolveIn return
// the resolution as a string, for handing to other programs.
package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinks bounds symlink resolution like the kernel's ELOOP limit.
const maxSymlinks = 255

// ErrEscapes is returned (wrapped) by ResolveIn when a path would leave the
// directory it must stay in.
var ErrEscapes = errors.New("path leaves its directory")

// Host is a node's filesystem seen from its root directory.
type Host struct {
	root string // absolute, clean, symlinks resolved
}

// New returns the Host rooted at root ("" means "/"). A relative root is made
// absolute; the root must be an existing directory.
func New(root string) (*Host, error) {
	if root == "" {
		root = "/"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", root, err)
	}
	// The root itself may be a symlink (e.g. /mnt/image -> /data/image); that
	// is the operator's choice, so resolve it once, on the host side.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("root %s does not exist or cannot be read: %w; create it or pass an existing directory as --root", root, unwrapPathError(err))
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", root, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s is not a directory; pass a directory as --root", root)
	}
	return &Host{root: real}, nil
}

// NewOut returns the Host rooted at dir for writing a node's files into it
// (render --out): dir is created if missing, and it must not be empty nor
// the machine's "/" (however it is spelled or linked), which would write
// the node's files over this machine's own. Files go in through the same
// root-confined layer as apply --root: no write follows a link out of dir,
// nor a link in a file's place.
func NewOut(dir string) (*Host, error) {
	if dir == "" {
		return nil, errors.New("the output directory is empty; pass a directory to write the files into, such as --out /tmp/node")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory %s: %w; pass a writable directory", dir, unwrapPathError(err))
	}
	h, err := New(dir)
	if err != nil {
		return nil, err
	}
	if h.root == "/" {
		return nil, fmt.Errorf("output directory %s is this machine's /; pass another directory, or use nodeup apply to change this machine", dir)
	}
	return h, nil
}

// Root returns the root directory on the machine running nodeup.
func (h *Host) Root() string { return h.root }

// Path returns where node path p is on the machine running nodeup: p joined
// to the root with every symlink, the last one included, resolved as if the
// root were "/". The result never lies outside the root. Components that do
// not exist yet are joined as they are. A relative p is an error.
func (h *Host) Path(p string) (string, error) {
	clean, err := nodePath(p)
	if err != nil {
		return "", err
	}
	rel, err := resolve(h.root, clean, false)
	if err != nil {
		return "", h.fail("resolve", p, err)
	}
	return h.join(rel), nil
}

// ResolveIn resolves rel inside the node directory dir, following every
// symlink (the last one included), and fails with ErrEscapes if the
// resolution would at any point leave dir: an absolute symlink, or ".."
// above dir. Archive extraction uses it to prove a staged tree's links stay
// inside the tree. It returns the node path the links lead to.
func (h *Host) ResolveIn(dir, rel string) (string, error) {
	if path.IsAbs(rel) {
		return "", fmt.Errorf("resolve %s in %s: %w (absolute)", rel, dir, ErrEscapes)
	}
	base, err := h.Path(dir)
	if err != nil {
		return "", err
	}
	out, err := resolve(base, "/"+rel, true)
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: %w", rel, dir, err)
	}
	return path.Join(dir, out), nil
}

// join turns a root-relative resolved path ("" or "/a/b") into a real path.
func (h *Host) join(rel string) string {
	if rel == "" {
		return h.root
	}
	if h.root == "/" {
		return rel
	}
	return h.root + rel
}

// nodePath checks that p is an absolute node path and cleans it.
func nodePath(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("node path %q is relative; node paths are absolute, as seen from the node's /", p)
	}
	return path.Clean(p), nil
}

// resolve walks the absolute path p below the real directory root, one
// component at a time, and returns the resolved path relative to root ("" for
// root itself, otherwise "/a/b"). Symlinks are followed with root as "/":
// absolute targets restart at root and ".." stops at root. With strict set,
// either of those is an ErrEscapes error instead. Components that do not exist
// are taken as they are. This is the algorithm of filepath-securejoin.
func resolve(root, p string, strict bool) (string, error) {
	out := ""
	rest := p
	links := 0
	for rest != "" {
		var comp string
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			comp, rest = rest[:i], rest[i+1:]
		} else {
			comp, rest = rest, ""
		}
		switch comp {
		case "", ".":
			continue
		case "..":
			if out == "" {
				if strict {
					return "", fmt.Errorf("%w: \"..\" climbs above it", ErrEscapes)
				}
				continue
			}
			out = out[:strings.LastIndexByte(out, '/')]
			continue
		}
		next := out + "/" + comp
		real := root + next
		if root == "/" {
			real = next
		}
		fi, err := os.Lstat(real)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				out = next
				continue
			}
			return "", unwrapPathError(err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			out = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("too many levels of symbolic links (more than %d)", maxSymlinks)
		}
		target, err := os.Readlink(real)
		if err != nil {
			return "", unwrapPathError(err)
		}
		if path.IsAbs(target) {
			if strict {
				return "", fmt.Errorf("%w: symlink %s points to absolute %s", ErrEscapes, next, target)
			}
			out = ""
		}
		if rest == "" {
			rest = target
		} else {
			rest = target + "/" + rest
		}
	}
	return out, nil
}

// Error is a failed operation on a node path, with a hint on what to do.
type Error struct {
	Op   string // what nodeup was doing: write, read, rename...
	Path string // the node path
	Err  error  // the cause; errors.Is sees through it
	Hint string // what the operator can do, or ""
}

func (e *Error) Error() string {
	s := e.Op + " " + e.Path + ": " + e.Err.Error()
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// fail wraps err for node path p, dropping the real path an *fs.PathError
// repeats and adding a hint for the errors an operator can fix.
func (h *Host) fail(op, p string, err error) error {
	var he *Error
	if errors.As(err, &he) {
		return err
	}
	err = unwrapPathError(err)
	return &Error{Op: op, Path: p, Err: err, Hint: hint(err, h.root)}
}

func hint(err error, root string) string {
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "run nodeup as root"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "free some space on that filesystem and run nodeup again"
	case errors.Is(err, syscall.EROFS):
		if root != "/" {
			return "the filesystem under " + root + " is read-only; remount it read-write"
		}
		return "the filesystem is read-only; remount it read-write or use --root on a writable tree"
	case errors.Is(err, syscall.ENOTDIR):
		return "a parent of it is not a directory; move that file away"
	case errors.Is(err, syscall.EISDIR):
		return "it is a directory; remove or move it"
	case errors.Is(err, syscall.ELOOP):
		return "a symlink is in the way (a loop, or a link where nodeup does not follow one); remove it"
	}
	return ""
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
