package host

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// StagePrefix starts the name of a directory an archive tree is unpacked
// into beside its destination before it is swapped in.
const StagePrefix = ".nodeup-stage-"

// Leftover reports whether a directory entry's name is one nodeup gives its
// temporary files and staging directories.
func Leftover(name string) bool {
	return strings.HasPrefix(name, TempPrefix) || strings.HasPrefix(name, StagePrefix)
}

// Sweep removes what a killed nodeup left in the node directories dirs:
// temporary files (TempPrefix) and staging directories (StagePrefix) right
// inside each of them, not deeper. A running nodeup's temporaries look the
// same, so call Sweep only while holding the lock (Lock). Directories that
// do not exist are skipped. It returns the node paths it removed; on an
// error it still sweeps the other directories.
func (h *Host) Sweep(dirs ...string) ([]string, error) {
	var removed []string
	var errs []error
	seen := map[string]bool{}
	for _, dir := range dirs {
		dir = path.Clean(dir)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		entries, err := h.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue // nothing was ever written there
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			if !Leftover(e.Name()) {
				continue
			}
			p := path.Join(dir, e.Name())
			if err := h.RemoveAll(p); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, p)
		}
	}
	return removed, errors.Join(errs...)
}
