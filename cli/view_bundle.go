package cli

import (
	"fmt"
	"strings"

	"github.com/nodeup/nodeup/bundle"
	"github.com/nodeup/nodeup/ops"
)

// bundleView is a bundle written: each file with its sha256 and size, and
// what they are.
type bundleView struct{ r *ops.BundleReport }

func (v bundleView) human(inv *invocation) {
	r := v.r
	for _, f := range r.Files {
		fmt.Fprintf(inv.out, "%s  %s (%d bytes)\n", f.ShownSHA256(), printable(f.Path), f.Size)
	}
	images := ""
	switch r.Images {
	case 0:
	case 1:
		images = ", 1 image archive"
	default:
		images = fmt.Sprintf(", %d image archives", r.Images)
	}
	fmt.Fprintf(inv.out, "bundle %s: %d artifacts for %s%s, the profile (%d files), nodeup for %d of %d architectures, and %s\n",
		printable(r.Out), r.Artifacts, strings.Join(r.Arches, ", "), images, r.ProfileFiles, len(r.Arches)-len(r.NodeupMissing), len(r.Arches), bundle.ManifestName)
}

func (v bundleView) document() any {
	var arts []bundle.Entry
	imgs := []bundle.Entry{}
	for _, f := range v.r.Files {
		switch {
		case f.Component == bundle.ComponentImage:
			imgs = append(imgs, f)
		case f.URL != "":
			arts = append(arts, f)
		}
	}
	return map[string]any{"output": v.r.Out, "arches": v.r.Arches, "nodeup_missing": append([]string{}, v.r.NodeupMissing...),
		"artifacts": arts, "images": imgs, "files": v.r.Files, "manifest": bundle.ManifestName}
}

func (v bundleView) ok() bool { return true }

// bundleVerifyView is a bundle checked against its manifest: one line per
// file, and a summary when all match.
type bundleVerifyView struct {
	path string
	r    *ops.VerifyBundleReport
}

func (v bundleVerifyView) human(inv *invocation) {
	for _, c := range v.r.Checks {
		if c.OK {
			fmt.Fprintf(inv.out, "ok    %s\n", printable(c.Path))
		} else {
			fmt.Fprintf(inv.out, "FAIL  %s: %s\n", printable(c.Path), printable(c.Problem))
		}
	}
	if v.ok() {
		m := v.r.Manifest
		fmt.Fprintf(inv.out, "bundle %s: %d files match %s (format %d, written by nodeup %s, for %s)\n",
			printable(v.path), len(v.r.Checks), bundle.ManifestName, m.FormatVersion, printable(m.NodeupVersion), printable(strings.Join(m.Arches, ", ")))
	}
}

func (v bundleVerifyView) document() any {
	return map[string]any{"manifest": v.r.Manifest, "checks": v.r.Checks, "failed": v.r.Failed}
}

func (v bundleVerifyView) ok() bool { return v.r.Failed == 0 }

// err fails the command when any file does not match.
func (v bundleVerifyView) err() error {
	if v.r.Failed > 0 {
		return fmt.Errorf("bundle %s: %d of %d files do not match %s; write the bundle again with nodeup bundle, or copy it again", v.path, v.r.Failed, len(v.r.Checks), bundle.ManifestName)
	}
	return nil
}

// bundleListView is what a bundle would hold: one line per file, with its
// sha256, mirror path, architectures and first source.
type bundleListView struct{ l *ops.BundleListing }

func (v bundleListView) human(inv *invocation) {
	for _, f := range v.l.Files {
		what := f.Component + " " + f.Version
		if f.Image != "" {
			what = "image " + f.Image
		}
		fmt.Fprintf(inv.out, "%s  %s  %s (%s)\n", f.SHA256, printable(f.Path), printable(strings.TrimSpace(what)), strings.Join(f.Arches, ", "))
		for _, s := range f.Sources {
			fmt.Fprintf(inv.out, "    from %s\n", printable(s))
		}
	}
	fmt.Fprintf(inv.out, "bundle: %d files for %s, downloaded from the first source that answers; nothing was downloaded\n",
		len(v.l.Files), strings.Join(v.l.Arches, ", "))
}

func (v bundleListView) document() any { return v.l }

func (v bundleListView) ok() bool { return true }
