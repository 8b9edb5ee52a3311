package ops

import (
	"github.com/nodeup/nodeup/plan"

	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// FmtOptions are what fmt is asked.
type FmtOptions struct {
	// Paths are profile files, or directories of *.hcl files.
	Paths []string
	// Check writes nothing.
	Check bool
	// Unformatted hears each file that is not in canonical format, with
	// its content and the canonical one, before it is rewritten.
	Unformatted func(path string, src, formatted []byte)
}

// FmtFile is a file fmt read.
type FmtFile struct {
	Path    string `json:"path"`
	Changed bool   `json:"changed"` // not in canonical format (with Check: left as it was)
}

// FmtReport is what fmt found.
type FmtReport struct {
	// Files are the files that parse, in the order given.
	Files []FmtFile
	// ParseErrors counts the files that do not parse, left alone; the
	// Diagnostics hook heard why.
	ParseErrors int
}

// Unformatted counts the files that were not in canonical format.
func (r *FmtReport) Unformatted() int {
	n := 0
	for _, f := range r.Files {
		if f.Changed {
			n++
		}
	}
	return n
}

// Fmt rewrites profiles in the canonical HCL style (hclwrite), or with
// Check only finds those that are not.
func Fmt(c *Config, o FmtOptions) (*FmtReport, error) {
	files, err := hclSources(o.Paths)
	if err != nil {
		return nil, err
	}
	r := &FmtReport{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("fmt: %w", err)
		}
		parsed, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			c.diagnostics(map[string]*hcl.File{f: parsed}, diags)
			r.ParseErrors++
			continue
		}
		out := hclwrite.Format(src)
		changed := !bytes.Equal(src, out)
		r.Files = append(r.Files, FmtFile{Path: f, Changed: changed})
		if !changed {
			continue
		}
		if o.Unformatted != nil {
			o.Unformatted(f, src, out)
		}
		if !o.Check {
			if err := writeInPlace(f, out); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// hclSources lists the files of fmt's arguments: files as they are,
// directories' *.hcl files in name order.
func hclSources(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("fmt: %w; pass profile files or directories of *.hcl files", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		// Listed by name, not matched as a pattern: a directory named
		// site[1] is not site1.
		matches, err := plan.HCLFiles(a)
		if err != nil {
			return nil, fmt.Errorf("fmt %s: %w", a, err)
		}
		out = append(out, matches...)
	}
	return out, nil
}

// writeInPlace replaces a file's content atomically, keeping its mode.
func writeInPlace(path string, content []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nodeup-fmt-*")
	if err != nil {
		return fmt.Errorf("fmt: %w; check that the directory of %s is writable", err, path)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("fmt: write %s: %w", path, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
