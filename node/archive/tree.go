package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"

	"github.com/nodeup/nodeup/node/host"
)

// InstallTree places the directory t.From of the archive ("" or "." for the
// whole archive) at node directory t.To, replacing what is there. The tree
// is unpacked into a staging directory beside t.To (".nodeup-stage-*", same
// filesystem) through a handle that follows no symlink (host.Dir), checked
// (every symlink found in it on disk must resolve inside it, even through
// other links), flushed to disk, and swapped with the old tree in one
// atomic exchange where the filesystem supports it (two renames
// otherwise); the old tree is removed only after the swap. The tree is
// nodeup's: files added to t.To by hand do not survive an update.
func (a *Archive) InstallTree(h *host.Host, t Tree) error {
	if a.format == FormatBinary {
		return fmt.Errorf("archive %s is a single binary; it has no tree %q", a.Name, t.From)
	}
	from, err := cleanName(t.From)
	if err != nil {
		return fmt.Errorf("archive %s: tree %q: want a relative directory name", a.Name, t.From)
	}
	to := path.Clean(t.To)
	if !path.IsAbs(to) || to == "/" {
		return fmt.Errorf("archive %s: tree destination %q must be an absolute directory other than /", a.Name, t.To)
	}
	// The staging directory is made at the first entry of the tree, so an
	// archive refused before that leaves no trace, not even t.To's parent.
	stageDir := ""
	var stage *host.Dir
	swapped := false
	defer func() {
		if stage != nil {
			stage.Close()
		}
		if stageDir != "" && !swapped {
			h.RemoveAll(stageDir)
		}
	}()

	dirModes := map[string]fs.FileMode{".": 0o755} // rel dir -> mode to set at the end
	found := false
	mkdirs := func(rel string) error {
		if rel == "." {
			return nil
		}
		if err := stage.MkdirAll(rel, 0o700); err != nil {
			return err
		}
		// 0700 while unpacking; the archive's modes are set at the end,
		// so a read-only directory can still be filled.
		for d := rel; d != "."; d = path.Dir(d) {
			if _, ok := dirModes[d]; ok {
				break
			}
			dirModes[d] = 0o755
		}
		return nil
	}
	err = a.walk(func(m *Member, r io.Reader) error {
		rel, ok := under(m.Name, from)
		if !ok {
			return nil
		}
		found = true
		if stage == nil {
			d, err := h.MkdirTemp(path.Dir(to), host.StagePrefix+path.Base(to)+"-")
			if err != nil {
				return err
			}
			stageDir = d
			if stage, err = h.OpenDir(d); err != nil {
				return err
			}
		}
		if rel == "" {
			if m.Kind != Dir {
				return fmt.Errorf("archive %s: %q is a %s, not a directory; it cannot be installed as the tree %s", a.Name, t.From, m.Kind, t.To)
			}
			dirModes["."] = m.Mode
			return nil
		}
		if err := mkdirs(path.Dir(rel)); err != nil {
			return err
		}
		switch m.Kind {
		case Dir:
			if err := mkdirs(rel); err != nil {
				return err
			}
			dirModes[rel] = m.Mode
		case File:
			if err := stage.Remove(rel); err != nil { // a later entry replaces an earlier one
				return err
			}
			f, err := stage.Create(rel, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, r)
			if err == nil {
				err = f.Chmod(m.Mode)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("archive %s: member %s: %w", a.Name, m.Name, err)
			}
		case Symlink:
			if err := linkInside(m.Name, m.Link, from); err != nil {
				return a.unsafe(m.Name, "is a symlink to %q, which %v, the tree being installed at %s", m.Link, err, t.To)
			}
			if err := stage.Symlink(m.Link, rel); err != nil {
				return err
			}
		case Hardlink:
			trel, ok := under(m.Link, from)
			if !ok || trel == "" {
				return a.unsafe(m.Name, "is a hardlink to %q, outside %s, the tree being installed at %s", m.Link, from, t.To)
			}
			if err := stage.Remove(rel); err != nil {
				return err
			}
			if err := stage.Link(trel, rel); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("archive %s has no directory %q to install at %s", a.Name, t.From, t.To)
	}
	// After the last entry, what is on disk is what counts: lexical checks
	// cannot see links that climb through other links (a -> "..",
	// b -> "a/.."), so resolve every symlink in the tree, inside it.
	links, err := stage.Symlinks()
	if err != nil {
		return err
	}
	for _, rel := range links {
		if _, err := h.ResolveIn(stageDir, rel); err != nil {
			if errors.Is(err, host.ErrEscapes) {
				return a.unsafe(path.Join(from, rel), "is a symlink that leads outside the tree being installed at %s (%v)", t.To, err)
			}
			return err
		}
	}
	// Deepest first, so a read-only directory is set after its children.
	dirs := make([]string, 0, len(dirModes))
	for d := range dirModes {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if err := stage.Chmod(d, dirModes[d]); err != nil {
			return err
		}
	}
	if err := h.SyncFS(stageDir); err != nil {
		return err
	}
	stage.Close()
	stage = nil
	return a.swap(h, stageDir, to, &swapped)
}

// swap puts the staged tree at to, keeping the old tree until the new one is
// in place, and removes the old one.
func (a *Archive) swap(h *host.Host, stageDir, to string, swapped *bool) error {
	if _, err := h.Lstat(to); errors.Is(err, fs.ErrNotExist) {
		if err := h.Rename(stageDir, to); err != nil {
			return err
		}
		*swapped = true
		return nil
	} else if err != nil {
		return err
	}
	err := h.Exchange(stageDir, to)
	if err == nil {
		*swapped = true
		// stageDir now holds the old tree.
		if err := h.RemoveAll(stageDir); err != nil {
			a.logf("installed %s; removing the old tree failed: %v", to, err)
		}
		return nil
	}
	if !errors.Is(err, host.ErrExchangeUnsupported) {
		return err
	}
	old := stageDir + ".old"
	if err := h.Rename(to, old); err != nil {
		return err
	}
	if err := h.Rename(stageDir, to); err != nil {
		if rerr := h.Rename(old, to); rerr != nil {
			return fmt.Errorf("%w; putting the old tree back failed too (%v): it is at %s", err, rerr, old)
		}
		return err
	}
	*swapped = true
	if err := h.RemoveAll(old); err != nil {
		a.logf("installed %s; removing the old tree failed: %v", to, err)
	}
	return nil
}
