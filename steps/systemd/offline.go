package systemd

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

// unitDir is where `systemctl enable` writes its symlinks.
const unitDir = "/etc/systemd/system"

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
			add(filepath.Join(unitDir, t+suffix[key], unitName))
		}
	}
	for _, a := range lists["Alias"] {
		add(filepath.Join(unitDir, a))
	}
	if len(links) == 0 {
		return nil, fmt.Errorf("enable %s: %w", unitName, ErrNoInstallSection)
	}
	// A unit file outside the search paths also gets a link in unitDir, as
	// `systemctl enable /path/x.service` does.
	switch filepath.Dir(unitPath) {
	case "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
		"/usr/lib/systemd/system", "/lib/systemd/system":
	default:
		add(filepath.Join(unitDir, unitName))
	}
	return links, nil
}

// EnableOffline enables a unit without systemd running, by creating the
// symlinks of InstallLinks under the root. It is idempotent: changed is
// false when every link already points at unitPath. A stale symlink is
// replaced atomically; a regular file in a link's place is an error.
func EnableOffline(r Root, unitPath, unitName string) (changed bool, err error) {
	links, err := InstallLinks(r, unitPath, unitName)
	if err != nil {
		return false, err
	}
	for _, l := range links {
		c, err := ensureLink(r, l)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

// IsEnabledOffline reports whether every symlink EnableOffline would
// create exists and points at unitPath.
func IsEnabledOffline(r Root, unitPath, unitName string) (bool, error) {
	links, err := InstallLinks(r, unitPath, unitName)
	if err != nil {
		return false, err
	}
	for _, l := range links {
		ok, err := linkIsRight(r, l)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// realLink maps the link's directory through the root but not the link
// itself, which must not be followed.
func realLink(r Root, l Link) (string, error) {
	dir, err := r.Path(filepath.Dir(l.Path))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(l.Path)), nil
}

func linkIsRight(r Root, l Link) (bool, error) {
	real, err := realLink(r, l)
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return false, fmt.Errorf("%s exists and is not a symlink", l.Path)
	}
	dest, err := os.Readlink(real)
	if err != nil {
		return false, err
	}
	return dest == l.Target, nil
}

func ensureLink(r Root, l Link) (bool, error) {
	ok, err := linkIsRight(r, l)
	if err != nil || ok {
		return false, err
	}
	real, err := realLink(r, l)
	if err != nil {
		return false, err
	}
	dir := filepath.Dir(real)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	// A symlink is replaced atomically by renaming a fresh one over it.
	tmp := filepath.Join(dir, ".#"+filepath.Base(real)+"."+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Symlink(l.Target, tmp); err != nil {
		return false, fmt.Errorf("link %s: %w", l.Path, err)
	}
	if err := os.Rename(tmp, real); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("link %s: %w", l.Path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return true, nil
}
