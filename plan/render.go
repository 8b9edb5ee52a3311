package plan

import (
	"bytes"
	"io/fs"

	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
)

// secretModeMask is what a rendered file whose content holds a sensitive
// value (a registry password in config.toml, a token in the kubelet's
// flags) loses of its mode: group and others read nothing (0644 is 0600).
const secretModeMask fs.FileMode = 0o077

// Render is templates.Render for the node: every file the profile gives
// it, with the mode it is written with by apply and render alike. A file
// whose content holds a sensitive value, in whatever form a renderer wrote
// it, is readable by its owner only (0600); sensitive says which those are, by node path.
func Render(p *profile.Profile) (files []templates.File, sensitive map[string]bool, err error) {
	files, err = templates.Render(p)
	if err != nil {
		return nil, nil, err
	}
	sensitive = SensitiveFiles(p, files)
	for i, f := range files {
		if sensitive[f.Path] {
			files[i].Mode = f.Mode &^ secretModeMask
		}
	}
	return files, sensitive, nil
}

// SensitiveFiles lists the rendered files of p that hold a sensitive
// value: those whose content differs when p's secrets are masked (see
// Masked). When the masked profile does not render, every file counts.
func SensitiveFiles(p *profile.Profile, files []templates.File) map[string]bool {
	out := map[string]bool{}
	if len(p.Sensitive) == 0 {
		return out
	}
	masked, err := templates.Render(Masked(p))
	byPath := map[string][]byte{}
	for _, f := range masked {
		byPath[f.Path] = f.Content
	}
	for _, f := range files {
		if m, ok := byPath[f.Path]; err != nil || !ok || !bytes.Equal(m, f.Content) {
			out[f.Path] = true
		}
	}
	return out
}
