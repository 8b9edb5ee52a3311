package systemd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/nodeup/nodeup/node/paths"
)

// LinkFS is the node filesystem offline enabling needs: paths resolved
// under the root, and symlinks read and replaced atomically at node paths.
// node/host's Host satisfies it.
type LinkFS interface {
	Root
	Lstat(p string) (fs.FileInfo, error)
	Readlink(p string) (string, error)
	// Symlink makes p a symlink to target atomically, creating parents.
	Symlink(target, p string) error
}

// Link is one symlink that enables a unit: the link's node path and the
// unit file it points to.
type Link struct {
	Path   string
	Target string
}

// InstallLinks reads the unit file at the node path unitPath and returns
// the symlinks `systemctl enable` would create for it: WantedBy=,
// RequiredBy= and UpheldBy= targets' .wants/.requires/.upholds entries
// and Alias= names, all under /etc/systemd/system.
func InstallLinks(r Root, unitPath, unitName string) ([]Link, error) {
	if !filepath.IsAbs(unitPath) {
		return nil, fmt.Errorf("unit path %q is not absolute", unitPath)
	}
	if unitName == "" {
		unitName = filepath.Base(unitPath)
	}
	if strings.Contains(unitName, "/") || !strings.Contains(unitName, ".") {
		return nil, fmt.Errorf("invalid unit name %q", unitName)
	}
	if strings.HasSuffix(strings.SplitN(unitName, ".", 2)[0], "@") {
		return nil, fmt.Errorf("enable %s offline: template units need an instance", unitName)
	}
	real, err := r.Path(unitPath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, fmt.Errorf("read unit %s: %w", unitPath, err)
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		return nil, fmt.Errorf("parse unit %s: %w", unitPath, err)
	}

	suffix := map[string]string{"WantedBy": ".wants", "RequiredBy": ".requires", "UpheldBy": ".upholds"}
	lists := map[string][]string{}
	for _, o := range opts {
		if o.Section != "Install" {
			continue
		}
		if _, ok := suffix[o.Name]; !ok && o.Name != "Alias" {
			continue
		}
		if strings.TrimSpace(o.Value) == "" { // an empty assignment resets the list
			lists[o.Name] = nil
			continue
		}
		for _, v := range strings.Fields(o.Value) {
			if strings.Contains(v, "%") || strings.Contains(v, "/") {
				return nil, fmt.Errorf("unit %s: %s=%s: specifiers and paths are not supported offline", unitPath, o.Name, v)
			}
			lists[o.Name] = append(lists[o.Name], v)
		}
	}

	var links []Link
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			links = append(links, Link{Path: p, Target: unitPath})
		}
	}
	for _, key := range []string{"WantedBy", "RequiredBy", "UpheldBy"} {
		for _, t := range lists[key] {
			add(filepath.Join(paths.UnitDir, t+suffix[key], unitName))
		}
	}
	for _, a := range lists["Alias"] {
		add(filepath.Join(paths.UnitDir, a))
	}
	if len(links) == 0 {
		return nil, fmt.Errorf("enable %s: %w", unitName, ErrNoInstallSection)
	}
	// A unit file outside the search paths also gets a link in paths.UnitDir, as
	// `systemctl enable /path/x.service` does.
	if dir := filepath.Dir(unitPath); dir != paths.UnitDir && dir != paths.RuntimeUnitDir && !slices.Contains(paths.PackageUnitDirs, dir) {
		add(filepath.Join(paths.UnitDir, unitName))
	}
	return links, nil
}

// EnableOffline enables a unit without systemd running, by creating the
// symlinks of InstallLinks under the root. It is idempotent: changed is
// false when every link already points at unitPath. A stale symlink (to
// another copy of the unit) is replaced atomically; a file in a link's
// place is an error.
func EnableOffline(fsys LinkFS, unitPath, unitName string) (changed bool, err error) {
	links, err := InstallLinks(fsys, unitPath, unitName)
	if err != nil {
		return false, err
	}
	for _, l := range links {
		c, err := ensureLink(fsys, l)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

// IsEnabledOffline reports whether every symlink EnableOffline would
// create exists and points at unitPath.
func IsEnabledOffline(fsys LinkFS, unitPath, unitName string) (bool, error) {
	links, err := InstallLinks(fsys, unitPath, unitName)
	if err != nil {
		return false, err
	}
	for _, l := range links {
		ok, err := linkIsRight(fsys, l)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func linkIsRight(fsys LinkFS, l Link) (bool, error) {
	fi, err := fsys.Lstat(l.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return false, fmt.Errorf("%s exists and is not a symlink; remove it to enable the unit", l.Path)
	}
	dest, err := fsys.Readlink(l.Path)
	if err != nil {
		return false, err
	}
	return dest == l.Target, nil
}

func ensureLink(fsys LinkFS, l Link) (bool, error) {
	ok, err := linkIsRight(fsys, l)
	if err != nil || ok {
		return false, err
	}
	// Symlink replaces a stale link atomically.
	if err := fsys.Symlink(l.Target, l.Path); err != nil {
		return false, fmt.Errorf("enable: %w", err)
	}
	return true, nil
}
