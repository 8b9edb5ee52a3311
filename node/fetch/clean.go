package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/nodeup/nodeup/node/host"
)

// ErrNotACache is the class of Clean's refusal of a directory that holds
// something nodeup never puts in its cache.
var ErrNotACache = errors.New("does not look like a nodeup cache")

// Cleaned is what Clean removed.
type Cleaned struct {
	Files int   // regular files removed
	Bytes int64 // their size
}

// Clean empties the download cache at node directory dir of h, and removes
// nothing that is not a cache entry. The cache is reached following no
// symlink in any component (a link there, even inside the root, is refused),
// and it must have the cache's own layout: at most a sha256 directory and
// the temporary files of a killed run, and in sha256 only files named by a
// sha256 and temporaries. Anything else is someone else's, so the directory
// is not a nodeup cache (it may be a home directory, or an image's "/"):
// Clean then refuses with ErrNotACache, naming what it found, before
// removing anything. A missing cache is empty.
func Clean(h *host.Host, dir string) (Cleaned, error) {
	var c Cleaned
	d, err := h.OpenOwnDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
		return c, fmt.Errorf("%s, or a directory on the way to it, is a symlink or not a directory; nodeup follows no link to its cache: remove the link, or pass the cache itself", dir)
	}
	if err != nil {
		return c, err
	}
	defer d.Close()
	// First the whole list, checked: nothing is removed from a directory
	// that turns out not to be a cache.
	var remove []string
	var subdirs []string
	top, err := d.ReadDir(".")
	if err != nil {
		return c, err
	}
	for _, e := range top {
		switch {
		case e.Name() == "sha256" && e.Type().IsDir():
			entries, err := d.ReadDir("sha256")
			if err != nil {
				return c, err
			}
			for _, f := range entries {
				rel := path.Join("sha256", f.Name())
				if !f.Type().IsRegular() || !(isSHA256(f.Name()) || host.Leftover(f.Name())) {
					return c, notACache(rel)
				}
				remove = append(remove, rel)
			}
			subdirs = append(subdirs, "sha256")
		case host.Leftover(e.Name()) && e.Type().IsRegular():
			remove = append(remove, e.Name())
		default:
			return c, notACache(e.Name())
		}
	}
	for _, rel := range remove {
		if fi, err := d.Lstat(rel); err == nil && fi.Mode().IsRegular() {
			c.Files++
			c.Bytes += fi.Size()
		}
		if err := d.Remove(rel); err != nil {
			return c, err
		}
	}
	for _, rel := range subdirs {
		// A download that landed meanwhile (--cache has no lock) stays.
		if err := d.Remove(rel); err != nil && !errors.Is(err, syscall.ENOTEMPTY) {
			return c, err
		}
	}
	return c, nil
}

func notACache(rel string) error {
	return fmt.Errorf("it %w: it holds %s, which nodeup never puts in its cache (CACHE/sha256/<sha256>); nothing was removed: pass nodeup's own cache directory, or move that away", ErrNotACache, quote(rel))
}

// quote prints a name as it is, unless it holds something a terminal
// would act on.
func quote(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// isSHA256 reports whether name is a cache entry's name: 64 lowercase hex
// digits.
func isSHA256(name string) bool {
	return len(name) == 64 && strings.Trim(name, "0123456789abcdef") == ""
}
