package ops

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
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
	p := loaded.Profile
	files, err := templates.Render(p)
	if err != nil {
		return nil, err
	}
	secret := sensitiveFiles(p, files)
	r := &RenderReport{Out: o.Out}
	for _, f := range files {
		dst := filepath.Join(o.Out, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("render: %w; check that --out %s is writable", err, o.Out)
		}
		if err := os.WriteFile(dst, f.Content, f.Mode.Perm()); err != nil {
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

// sensitiveFiles lists the rendered files that hold a sensitive value.
func sensitiveFiles(p *profile.Profile, files []templates.File) map[string]bool {
	out := map[string]bool{}
	if len(p.Sensitive) == 0 {
		return out
	}
	masked, err := templates.Render(plan.Masked(p))
	byPath := map[string][]byte{}
	for _, f := range masked {
		byPath[f.Path] = f.Content
	}
	for _, f := range files {
		if m, ok := byPath[f.Path]; err != nil || !ok || string(m) != string(f.Content) {
			out[f.Path] = true
		}
	}
	return out
}
