package plan

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/templates"
)

// DefaultSiteFileMode is a file block's mode when it sets none; a file
// whose content holds a sensitive value is 0600.
const DefaultSiteFileMode = 0o644

var siteFileSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "content", Required: true}, {Name: "mode"}, {Name: "restart"},
}}

var (
	// A file mode as the profile writes it: octal permission bits, "0644".
	modePattern = regexp.MustCompile(`^0?[0-7]{3}$`)
	// A unit name systemctl restart takes.
	unitNamePattern = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|path|mount)$`)
)

// siteFileKey is where the loader records a file block's attributes.
func siteFileKey(p string) string { return joinKey("file", p) }

func (l *loader) decodeSiteFile(blk *hcl.Block, p *profile.Profile) {
	f := profile.SiteFile{Path: blk.Labels[0], Mode: DefaultSiteFileMode, DeclRange: blk.DefRange}
	key := siteFileKey(f.Path)
	if first, dup := l.ranges[joinKey(key, "path")]; dup {
		l.errorf(blk.LabelRanges[0].Ptr(), "Duplicate file block",
			"A profile holds one file block per path; %s is also at %s:%d. Merge the two.", f.Path, first.Filename, first.Start.Line)
		return
	}
	l.ranges[joinKey(key, "path")] = blk.LabelRanges[0]
	a := l.attrs(key, l.blockAttrs(blk, siteFileSchema))
	if a.str("content", &f.Content) {
		f.Sensitive = l.sensitiveSet[f.Content]
	}
	if f.Sensitive {
		f.Mode = 0o600
	}
	var mode string
	if a.str("mode", &mode) {
		m, err := strconv.ParseUint(mode, 8, 32)
		switch {
		case !modePattern.MatchString(mode) || err != nil:
			l.errorf(a.rangeOf("mode"), "Invalid file mode",
				"file %s: mode %q is not a file mode; write the permission bits in octal as a string, such as \"0644\" or \"0600\".", f.Path, mode)
		case f.Sensitive && m&uint64(secretModeMask) != 0:
			l.errorf(a.rangeOf("mode"), "Sensitive file readable by others",
				"file %s: its content holds a sensitive value, so its mode must be 0600 or tighter (group and others read nothing); got %q.", f.Path, mode)
		default:
			f.Mode = fs.FileMode(m)
		}
	}
	a.strList("restart", &f.Restart)
	if unitOfFile(f.Path) != "" {
		// systemd would ignore what it cannot parse, and say so only in
		// its journal.
		if _, err := unit.DeserializeOptions(strings.NewReader(f.Content)); err != nil {
			l.errorf(a.rangeOf("content"), "Invalid unit file", "file %s is a unit file or drop-in, and systemd cannot read its content: %v.", f.Path, err)
		}
	}
	p.SiteFiles = append(p.SiteFiles, f)
}

// validateSiteFiles checks each file block's path and restart list, and
// that no other setting owns its path: a file nodeup renders or a
// component installs, a tree nodeup replaces whole (/opt/kata), a
// directory whose files belong to a setting (cni.bin_dir, cni.conf_dir),
// nodeup's own files, or a directory nodeup writes into.
func (l *loader) validateSiteFiles(p *profile.Profile) {
	if len(p.SiteFiles) == 0 {
		return
	}
	owned := l.ownedPaths(p)
	for i, f := range p.SiteFiles {
		at := l.at(joinKey(siteFileKey(f.Path), "path"), f.DeclRange)
		if p.Node.OS != profile.OSLinux {
			l.errorf(at, "file block on Windows", "file blocks write Linux node paths; a Windows node is rendered only. Remove the file block.")
			continue
		}
		if _, r, bad := controlChar(f.Path); bad {
			l.errorf(at, "Control character", "The file path holds the control character %U; remove it.", r)
			continue
		}
		if !path.IsAbs(f.Path) {
			l.errorf(at, "Relative path", "file %q must be an absolute path.", f.Path)
			continue
		}
		if path.Clean(f.Path) != f.Path || f.Path == "/" {
			l.errorf(at, "Path not clean", "file %q: write the path of the file itself, %q, without \".\", \"..\", doubled or trailing slashes.", f.Path, path.Clean(f.Path))
			continue
		}
		for _, u := range f.Restart {
			if !unitNamePattern.MatchString(u) {
				l.errorf(l.at(joinKey(siteFileKey(f.Path), "restart"), f.DeclRange), "Invalid unit name",
					"file %s: restart names %q, which is not a systemd unit name such as \"containerd.service\".", f.Path, u)
			}
		}
		for _, d := range owned {
			if why := d.collision(f.Path); why != "" {
				l.errorf(at, "Path owned by another setting", "file %s %s. Choose another path.", f.Path, why)
			}
		}
		for _, g := range p.SiteFiles[:i] {
			if strings.HasPrefix(f.Path, g.Path+"/") || strings.HasPrefix(g.Path, f.Path+"/") {
				l.errorf(at, "Overlapping file blocks", "file %s and file %s cannot both be files: one is inside the other.", f.Path, g.Path)
			}
		}
	}
}

// ownedPath is a place another setting owns; rendered: a file nodeup
// renders from the profile's settings.
type ownedPath struct {
	destination
	rendered bool
}

// collision says how a file block at p collides with the place, or "".
func (d ownedPath) collision(p string) string {
	switch {
	case d.path == p && d.rendered:
		return "is a file nodeup renders from the profile's settings (nodeup render shows it): change it through them"
	case d.path == p:
		return "is also written by " + d.what
	case d.tree && d.holds(p):
		return fmt.Sprintf("is inside %s (%s), which is replaced whole on every update", d.what, d.path)
	case d.dir && d.holds(p):
		return fmt.Sprintf("is in %s (%s), whose files belong to it", d.what, d.path)
	case strings.HasPrefix(d.path, p+"/"):
		return fmt.Sprintf("is a directory that holds %s (%s)", d.what, d.path)
	}
	return ""
}

// ownedPaths are the places of a profile that settings other than file
// blocks own: where components install, the files nodeup renders, the
// directory kubelet.config.staticPodPath names, and nodeup's own files.
func (l *loader) ownedPaths(p *profile.Profile) []ownedPath {
	var out []ownedPath
	for _, d := range l.destinations(p) {
		out = append(out, ownedPath{destination: d})
	}
	own := *p
	own.SiteFiles = nil
	if files, err := templates.Render(&own); err == nil {
		for _, f := range files {
			out = append(out, ownedPath{destination{path: f.Path, what: "a file nodeup renders"}, true})
		}
	}
	if len(p.Kubelet.CredentialProviders) > 0 {
		out = append(out, ownedPath{destination: destination{path: paths.CredentialProviderBinDir, dir: true, what: "the kubelet's credential provider directory"}})
	}
	if sp, ok := p.Kubelet.Config["staticPodPath"].(string); ok && path.IsAbs(sp) {
		out = append(out, ownedPath{destination: destination{path: path.Clean(sp), what: "the directory kubelet.config.staticPodPath names"}})
	}
	for _, t := range []string{paths.StateDir, paths.CacheDir, paths.ProfileDir} {
		out = append(out, ownedPath{destination: destination{path: t, dir: true, what: "nodeup's own directory"}})
	}
	out = append(out, ownedPath{destination: destination{path: paths.LockFile, what: "nodeup's lock"}})
	return out
}

// siteFileRange is where the file block of node path p was written.
func siteFileRange(p *profile.Profile, nodePath string) (hcl.Range, bool) {
	for _, f := range p.SiteFiles {
		if f.Path == nodePath {
			return f.DeclRange, true
		}
	}
	return hcl.Range{}, false
}

// unitOfFile is the unit a unit file or drop-in under paths.UnitDir
// belongs to ("containerd.service" for containerd.service.d/20-site.conf);
// "" for any other path.
func unitOfFile(p string) string {
	if !paths.IsUnitFile(p) {
		return ""
	}
	dir := path.Dir(p)
	if dir == paths.UnitDir {
		return path.Base(p)
	}
	if unit, ok := strings.CutSuffix(path.Base(dir), ".d"); ok {
		return unit
	}
	return "" // a .wants or .requires link
}

// withSiteRestarts adds to restartOn, the steps whose change restarts
// unit, the file blocks that name it in restart and its drop-ins (a change
// to a unit's files restarts it, as for nodeup's own).
func withSiteRestarts(p *profile.Profile, unit string, restartOn []string) []string {
	for _, f := range p.SiteFiles {
		id := steps.FileID(f.Path)
		if (unitOfFile(f.Path) == unit || slices.Contains(f.Restart, unit)) && !slices.Contains(restartOn, id) {
			restartOn = append(restartOn, id)
		}
	}
	return restartOn
}

// siteUnits adds a step per unit nodeup does not manage that file blocks
// name in restart or write unit files for: one daemon-reload and one
// restart per run, whatever number of files changed.
func (b *builder) siteUnits() {
	p := b.p
	managed := map[string]bool{}
	for _, id := range b.g.IDs() {
		if name, ok := strings.CutPrefix(id, steps.UnitID("")); ok {
			managed[name] = true
		}
	}
	units := map[string]*steps.SiteUnit{}
	var order []string
	get := func(name string) *steps.SiteUnit {
		if units[name] == nil {
			units[name] = &steps.SiteUnit{Name: name}
			order = append(order, name)
		}
		return units[name]
	}
	for _, f := range p.SiteFiles {
		id := steps.FileID(f.Path)
		if u := unitOfFile(f.Path); u != "" && !managed[u] && !slices.Contains(f.Restart, u) {
			get(u).ReloadOn = append(get(u).ReloadOn, id)
		}
		for _, name := range f.Restart {
			if !managed[name] {
				get(name).RestartOn = append(get(name).RestartOn, id)
			}
		}
	}
	for _, name := range order {
		u := units[name]
		r, _ := siteFileRange(p, strings.TrimPrefix(firstOf(u.RestartOn, u.ReloadOn), steps.FileID("")))
		b.g.Add(u, r, append(append([]string{}, u.ReloadOn...), u.RestartOn...)...)
	}
}

func firstOf(a, b []string) string {
	if len(a) > 0 {
		return a[0]
	}
	return b[0]
}
