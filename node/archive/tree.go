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
	if a.stream {
		return fmt.Errorf("archive %s: a tree is installed from the downloaded file, not while it downloads", a.Name)
	}
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
	s := &treeStage{a: a, h: h, t: t, from: from, to: to, dirModes: map[string]fs.FileMode{".": 0o755}}
	swapped := false
	defer func() {
		if s.dir != nil {
			s.dir.Close()
		}
		if s.path != "" && !swapped {
			h.RemoveAll(s.path)
		}
	}()
	if err := a.walk(s.member); err != nil {
		return err
	}
	if !s.found {
		return fmt.Errorf("archive %s has no directory %q to install at %s", a.Name, t.From, t.To)
	}
	if err := s.checkLinks(); err != nil {
		return err
	}
	if err := s.setModes(); err != nil {
		return err
	}
	if err := h.SyncFS(s.path); err != nil {
		return err
	}
	s.dir.Close()
	s.dir = nil
	return a.swap(h, s.path, to, &swapped)
}

// treeStage is a tree being unpacked into its staging directory.
type treeStage struct {
	a        *Archive
	h        *host.Host
	t        Tree
	from, to string // the tree in the archive, cleaned; its node directory
	// The staging directory is made at the first entry of the tree, so an
	// archive refused before that leaves no trace, not even t.To's parent.
	path     string
	dir      *host.Dir
	dirModes map[string]fs.FileMode // rel dir -> mode to set at the end
	found    bool
}

// member unpacks one member of the archive, if it is in the tree.
func (s *treeStage) member(m *Member, r io.Reader) error {
	rel, ok := under(m.Name, s.from)
	if !ok {
		return nil
	}
	s.found = true
	if err := s.open(); err != nil {
		return err
	}
	if rel == "" {
		if m.Kind != Dir {
			return fmt.Errorf("archive %s: %q is a %s, not a directory; it cannot be installed as the tree %s", s.a.Name, s.t.From, m.Kind, s.t.To)
		}
		s.dirModes["."] = m.Mode
		return nil
	}
	if err := s.mkdirs(path.Dir(rel)); err != nil {
		return err
	}
	switch m.Kind {
	case Dir:
		if err := s.mkdirs(rel); err != nil {
			return err
		}
		s.dirModes[rel] = m.Mode
	case File:
		return s.file(m, rel, r)
	case Symlink:
		if err := linkInside(m.Name, m.Link, s.from); err != nil {
			return s.a.unsafe(m.Name, "is a symlink to %q, which %v, the tree being installed at %s", m.Link, err, s.t.To)
		}
		return s.dir.Symlink(m.Link, rel)
	case Hardlink:
		trel, ok := under(m.Link, s.from)
		if !ok || trel == "" {
			return s.a.unsafe(m.Name, "is a hardlink to %q, outside %s, the tree being installed at %s", m.Link, s.from, s.t.To)
		}
		if err := s.dir.Remove(rel); err != nil {
			return err
		}
		return s.dir.Link(trel, rel)
	}
	return nil
}

// open makes the staging directory beside the tree's, once.
func (s *treeStage) open() error {
	if s.dir != nil {
		return nil
	}
	d, err := s.h.MkdirTemp(path.Dir(s.to), host.StagePrefix+path.Base(s.to)+"-")
	if err != nil {
		return err
	}
	s.path = d
	s.dir, err = s.h.OpenDir(d)
	return err
}

// mkdirs makes directory rel of the stage and its parents.
func (s *treeStage) mkdirs(rel string) error {
	if rel == "." {
		return nil
	}
	if err := s.dir.MkdirAll(rel, 0o700); err != nil {
		return err
	}
	// 0700 while unpacking; the archive's modes are set at the end,
	// so a read-only directory can still be filled.
	for d := rel; d != "."; d = path.Dir(d) {
		if _, ok := s.dirModes[d]; ok {
			break
		}
		s.dirModes[d] = 0o755
	}
	return nil
}

// file unpacks a regular file at rel; a later entry replaces an earlier one.
func (s *treeStage) file(m *Member, rel string, r io.Reader) error {
	if err := s.dir.Remove(rel); err != nil {
		return err
	}
	f, err := s.dir.Create(rel, 0o600)
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
		return fmt.Errorf("archive %s: member %s: %w", s.a.Name, m.Name, err)
	}
	return nil
}

// checkLinks resolves every symlink in the stage, inside it. After the
// last entry, what is on disk is what counts: lexical checks cannot see
// links that climb through other links (a -> "..", b -> "a/..").
func (s *treeStage) checkLinks() error {
	links, err := s.dir.Symlinks()
	if err != nil {
		return err
	}
	for _, rel := range links {
		if _, err := s.h.ResolveIn(s.path, rel); err != nil {
			if errors.Is(err, host.ErrEscapes) {
				return s.a.unsafe(path.Join(s.from, rel), "is a symlink that leads outside the tree being installed at %s (%v)", s.t.To, err)
			}
			return err
		}
	}
	return nil
}

// setModes gives the directories their modes, deepest first, so a
// read-only directory is set after its children.
func (s *treeStage) setModes() error {
	dirs := make([]string, 0, len(s.dirModes))
	for d := range s.dirModes {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if err := s.dir.Chmod(d, s.dirModes[d]); err != nil {
			return err
		}
	}
	return nil
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
