package bundle

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/fetch"
)

// maxManifest bounds manifest.json: a bundle lists tens of files.
const maxManifest = 4 << 20

// Check is the verdict on one file of a bundle.
type Check struct {
	Path string `json:"path"`
	OK   bool   `json:"ok"`
	// Problem says what is wrong and what to do; empty when OK.
	Problem string `json:"problem,omitempty"`
}

// Verify checks the bundle at p (a directory or a tar file) against its
// manifest: every file listed is there with its size and sha256, and
// nothing else is. It returns the manifest and one Check per file listed
// or found; err is set when the bundle cannot be read at all (no manifest,
// a format this nodeup does not know).
func Verify(p string) (*Manifest, []Check, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; pass a bundle directory or tar file written by nodeup bundle", err)
	}
	if fi.IsDir() {
		return verifyDir(p)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is a %v, not a directory or a file; pass a bundle directory or tar file written by nodeup bundle", p, fi.Mode().Type())
	}
	return verifyTar(p)
}

// ReadManifest parses a manifest and checks what a reader relies on: a
// format this nodeup reads and paths that stay inside the bundle.
func ReadManifest(r io.Reader, where string) (*Manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%s is larger than %d MiB: not a manifest nodeup wrote", where, maxManifest>>20)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w; write the bundle again with nodeup bundle", where, err)
	}
	switch {
	case m.FormatVersion == 0:
		return nil, fmt.Errorf("%s has no format_version: an older nodeup wrote it; write the bundle again with this nodeup's bundle command", where)
	case m.FormatVersion > FormatVersion:
		return nil, fmt.Errorf("%s has format_version %d, and this nodeup reads format %d: verify it with the nodeup that wrote it (%s) or a newer one", where, m.FormatVersion, FormatVersion, m.NodeupVersion)
	}
	seen := map[string]bool{}
	for _, e := range m.Files {
		if _, err := fetch.Within(".", e.Path); err != nil || e.Path != path.Clean(e.Path) || e.Path == ManifestName {
			return nil, fmt.Errorf("%s lists %q, which is not a plain path inside the bundle", where, e.Path)
		}
		if seen[e.Path] {
			return nil, fmt.Errorf("%s lists %s twice", where, e.Path)
		}
		seen[e.Path] = true
	}
	return &m, nil
}

// checker compares what is found with the manifest, file by file.
type checker struct {
	where  string
	byPath map[string]Entry
	found  map[string]bool
	checks []Check
}

func newChecker(where string, m *Manifest) *checker {
	c := &checker{where: where, byPath: map[string]Entry{}, found: map[string]bool{}}
	for _, e := range m.Files {
		c.byPath[e.Path] = e
	}
	return c
}

func (c *checker) fail(p, format string, args ...any) {
	c.checks = append(c.checks, Check{Path: p, Problem: fmt.Sprintf(format, args...)})
}

// file checks the regular file at p, of size bytes, read from r.
func (c *checker) file(p string, size int64, r io.Reader) {
	e, ok := c.byPath[p]
	if !ok {
		c.fail(p, "%s holds %s, which the manifest does not list; remove it, or write the bundle again", c.where, p)
		return
	}
	c.found[p] = true
	if size != e.Size {
		c.fail(p, "%s has %d bytes, the manifest says %d: the file is truncated or replaced; write the bundle again", p, size, e.Size)
		return
	}
	if e.Sensitive {
		// Listed without its sha256: there, with its size, is all that
		// can be checked.
		c.checks = append(c.checks, Check{Path: p, OK: true})
		return
	}
	got, err := digest.Reader(io.LimitReader(r, e.Size+1))
	if err != nil {
		c.fail(p, "read %s: %v", p, err)
		return
	}
	if got != e.SHA256 {
		c.fail(p, "%s has sha256 %s, the manifest says %s: the file is damaged or replaced; write the bundle again", p, got, e.SHA256)
		return
	}
	c.checks = append(c.checks, Check{Path: p, OK: true})
}

func (c *checker) done() []Check {
	for p := range c.byPath {
		if !c.found[p] {
			c.fail(p, "%s is listed in the manifest but missing from %s; write the bundle again", p, c.where)
		}
	}
	sort.SliceStable(c.checks, func(i, j int) bool { return c.checks[i].Path < c.checks[j].Path })
	return c.checks
}

func verifyDir(dir string) (*Manifest, []Check, error) {
	mf, err := openRegular(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s is not a bundle (nodeup bundle writes %s)", err, dir, ManifestName)
	}
	m, err := ReadManifest(mf, filepath.Join(dir, ManifestName))
	mf.Close()
	if err != nil {
		return nil, nil, err
	}
	c := newChecker(dir, m)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir() || rel == ManifestName:
			return nil
		case !d.Type().IsRegular():
			c.fail(rel, "%s is a %v, not a regular file; a bundle holds files and directories only", rel, d.Type())
			return nil
		}
		f, err := openRegular(p)
		if err != nil {
			c.fail(rel, "%v", err)
			return nil
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		c.file(rel, fi.Size(), f)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return m, c.done(), nil
}

func verifyTar(file string) (*Manifest, []Check, error) {
	f, err := openRegular(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	// The manifest is written last; find it first.
	m, err := tarManifest(f, file)
	if err != nil {
		return nil, nil, err
	}
	c := newChecker(file, m)
	tr := tar.NewReader(f)
	// What the members hold together cannot be more than the tar's own
	// bytes, unless one is sparse (its holes read as zeros): such a member
	// would have nodeup hash far more than the file holds.
	left := fi.Size()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w; the tar is damaged: write the bundle again", file, err)
		}
		name := fetch.TarMemberName(h.Name)
		switch {
		case h.Typeflag == tar.TypeDir || name == ManifestName:
			continue
		case h.Typeflag != tar.TypeReg:
			c.fail(name, "%s in %s is not a regular file (tar type %q); a bundle holds files and directories only", name, file, h.Typeflag)
			continue
		}
		if h.Size > left {
			c.found[name] = true
			c.fail(name, "%s in %s declares %d bytes, more than the tar holds (a sparse member); a bundle holds plain files only: write the bundle again", name, file, h.Size)
			continue
		}
		left -= h.Size
		c.file(name, h.Size, tr)
	}
	return m, c.done(), nil
}
