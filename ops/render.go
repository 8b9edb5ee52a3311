package ops

import (
	"fmt"
	"path/filepath"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/plan"
)

// RenderOptions are what render is asked.
type RenderOptions struct {
	Path string // the profile
	Out  string // the directory the files go under, laid out as under /
	// Wrote hears each file once it is written.
	Wrote func(f RenderedFile)
}

// RenderedFile is one file render wrote.
type RenderedFile struct {
	Path      string `json:"path"`    // node path
	Written   string `json:"written"` // where render wrote it
	Mode      string `json:"mode"`
	Bytes     int    `json:"bytes"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// RenderReport is what render wrote, in the order it wrote it.
type RenderReport struct {
	Out   string
	Files []RenderedFile
}

// Render writes every file the profile gives the node under o.Out. Files
// hold sensitive values where the node needs them; the report says which.
func Render(c *Config, o RenderOptions) (*RenderReport, error) {
	loaded, err := c.LoadProfile(o.Path)
	if err != nil {
		return nil, err
	}
	// A file holding a secret is rendered for its owner only.
	files, secret, err := plan.Render(loaded.Profile)
	if err != nil {
		return nil, err
	}
	// The same root-confined file layer as apply --root: no write follows
	// a link inside the output directory.
	h, err := host.NewOut(o.Out)
	if err != nil {
		return nil, fmt.Errorf("render --out: %w", err)
	}
	r := &RenderReport{Out: o.Out}
	for _, f := range files {
		dst := filepath.Join(o.Out, filepath.FromSlash(f.Path))
		if err := h.WriteFile(f.Path, f.Content, f.Mode.Perm()); err != nil {
			return nil, fmt.Errorf("render: %w; check that --out %s is writable", err, o.Out)
		}
		rf := RenderedFile{Path: f.Path, Written: dst, Mode: fmt.Sprintf("%04o", f.Mode.Perm()), Bytes: len(f.Content), Sensitive: secret[f.Path]}
		r.Files = append(r.Files, rf)
		if o.Wrote != nil {
			o.Wrote(rf)
		}
	}
	return r, nil
}
