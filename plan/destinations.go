package plan

import (
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/profile"
)

// destination is a place on the node that one setting of the profile
// puts something at.
type destination struct {
	path string
	// tree: the whole directory is the setting's and is replaced on
	// update; dir: files go into the directory beside others'; else a file.
	tree, dir bool
	what      string     // e.g. "the kata block's /opt/kata", "cni.bin_dir"
	at        *hcl.Range // where the setting was written
}

func (d destination) holds(p string) bool {
	return p == d.path || strings.HasPrefix(p, strings.TrimSuffix(d.path, "/")+"/")
}

// destinations lists where a Linux profile installs its components, keeps
// the CNI configuration, and has containerd put its socket. Every path is
// cleaned ("/opt//kata/cni" and "/opt/x/../kata/cni" are "/opt/kata/cni")
// before any comparison.
func (l *loader) destinations(p *profile.Profile) []destination {
	var out []destination
	for _, in := range installs(p) {
		c := in.component
		if c.DeclRange.Filename == "" {
			continue // a missing block, reported as such
		}
		block := in.name + " block"
		if in.block != "" {
			block = in.block
		}
		for _, f := range in.files {
			d := destination{path: path.Clean(f.To), what: "the " + block + "'s " + f.To, at: c.DeclRange.Ptr()}
			if in.name == "cni" {
				d.what, d.at = "cni.bin_dir", l.at("cni.bin_dir", c.DeclRange)
				if strings.HasSuffix(f.To, "/") || f.From == "*" {
					d.path, d.dir = path.Clean(f.To), true
				}
			}
			out = append(out, d)
		}
		for _, t := range in.trees {
			out = append(out, destination{path: path.Clean(t.To), tree: true, what: "the " + block + "'s " + t.To, at: c.DeclRange.Ptr()})
		}
		for _, b := range in.binaries {
			out = append(out, destination{path: path.Clean(b), what: "the " + in.name + " package's " + b, at: c.DeclRange.Ptr()})
		}
	}
	if p.CNI != nil {
		out = append(out, destination{path: path.Clean(p.CNI.ConfDir), dir: true, what: "cni.conf_dir", at: l.at("cni.conf_dir", p.CNI.DeclRange)})
	}
	if p.Containerd.DeclRange.Filename != "" {
		out = append(out, destination{path: path.Clean(p.Containerd.Socket), what: "containerd.socket", at: l.at("containerd.socket", p.Containerd.DeclRange)})
	}
	return out
}

// validateDestinations refuses a profile whose settings put two things at
// one place: one path written by two components, anything inside a tree
// that is replaced whole (kata's /opt/kata), or the CNI configuration in
// the directory of the plugins. Each pair is reported once, at the inner
// place (for two equal places, the one listed second), which is the one a
// profile chooses by hand.
func (l *loader) validateDestinations(p *profile.Profile) {
	if p.Node.OS != profile.OSLinux {
		return // nothing is installed on a Windows node
	}
	ds := l.destinations(p)
	for _, d := range ds {
		if !path.IsAbs(d.path) {
			return // reported as a relative path
		}
	}
	for i, b := range ds {
		for _, a := range ds[:i] {
			outer, inner := a, b
			why := overlap(outer, inner)
			if why == "" {
				outer, inner = b, a
				why = overlap(outer, inner)
			}
			if why != "" {
				l.errorf(inner.at, "Overlapping destinations",
					"%s (%s) %s %s (%s): the two would overwrite each other. Choose a place outside it.",
					inner.what, inner.path, why, outer.what, outer.path)
			}
		}
	}
}

// overlap says how b's place collides with a's, or "".
func overlap(a, b destination) string {
	switch {
	case a.path == b.path && (a.tree || b.tree):
		return "is the directory of"
	case a.path == b.path && a.dir && b.dir:
		return "is also"
	case a.path == b.path && !a.dir && !b.dir:
		return "is also written by"
	case a.tree && a.holds(b.path):
		return "is inside the tree replaced on every update by"
	case b.dir && !a.dir && !a.tree && b.holds(a.path):
		// Whatever a release puts in the directory (every executable of a
		// CNI archive) could be named like the file, and replace it.
		return "would hold files named like"
	}
	return ""
}
