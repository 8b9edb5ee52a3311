// Package bundle writes and checks nodeup bundles: every artifact a profile
// needs laid out as a mirror (HOST/PATH, docs/profile.md, "mirror"), the image
// archives it preloads where a mirror serves them (images/NAME/TAG.tar),
// the nodeup binaries, the profile, and manifest.json, which lists each
// file with its sha256 and size. A bundle is a directory or one tar file,
// and either serves as a file:// mirror.
//
// Its promise: Write never leaves a partial bundle at the output (it builds
// beside it and renames), and Verify accepts a bundle only when its files
// are exactly those of its manifest, byte for byte.
package bundle

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/fetch"
)

// FormatVersion is the version of the bundle layout and manifest this
// nodeup writes and reads. A reader skips fields and components it does
// not know, so adding them leaves the version; it goes up when a field, a
// component or the layout changes meaning or goes away.
const FormatVersion = 1

// ManifestName is the manifest's path in a bundle.
const ManifestName = "manifest.json"

// Components of the files that are not release artifacts.
const (
	ComponentNodeup  = "nodeup"
	ComponentProfile = "profile"
	// ComponentImage is an image archive a profile preloads (an image
	// block); Entry.Image names the image.
	ComponentImage = "image"
)

// ProfileDir is where a bundle holds the profile (a profile directory).
const ProfileDir = "profile"

// NodeupPath is where a bundle holds the nodeup binary for arch.
func NodeupPath(arch string) string { return "nodeup/nodeup-linux-" + arch }

// Manifest is a bundle's manifest.json.
type Manifest struct {
	FormatVersion int      `json:"format_version"`
	NodeupVersion string   `json:"nodeup_version"`
	Arches        []string `json:"arches"`
	Files         []Entry  `json:"files"`
}

// Entry is one file of a bundle.
type Entry struct {
	// Component is the artifact's component (containerd, runc, cni,
	// crictl, kata, kubelet), ComponentNodeup, ComponentProfile or
	// ComponentImage.
	Component string `json:"component"`
	Version   string `json:"version,omitempty"`
	// Arch is empty for a file of every architecture: the profile, and an
	// image archive (a multi-platform one holds each).
	Arch string `json:"arch,omitempty"`
	// Image is the reference an image archive is imported as, spelled as
	// containerd's CRI stores it: registry.k8s.io/pause:3.10.
	Image string `json:"image,omitempty"`
	// URL is the upstream URL of a release artifact, or of an image
	// archive with a url; Path is then its mirror layout path, HOST/PATH.
	URL    string `json:"url,omitempty"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Sensitive marks a file that holds a secret (the values a profile
	// was given for sensitive variables): the manifest is world-readable,
	// so it holds no sha256 of it, and Verify checks only that it is there
	// with its size.
	Sensitive bool `json:"sensitive,omitempty"`
}

// ShownSHA256 is the entry's sha256 as nodeup prints it: "(sensitive)" for
// a file that holds a secret.
func (e Entry) ShownSHA256() string {
	if e.Sensitive {
		return "(sensitive)"
	}
	return e.SHA256
}

// ProfileFile is the bundle file of one file of the profile (rel, relative
// to the profile directory): one that holds a secret is listed without its
// sha256.
func ProfileFile(rel string, data []byte, mode os.FileMode, sensitive bool) File {
	e := Entry{Component: ComponentProfile, Path: path.Join(ProfileDir, rel), Size: int64(len(data)), Sensitive: sensitive}
	if !sensitive {
		e.SHA256 = digest.Bytes(data)
	}
	return File{Entry: e, Data: data, Mode: mode}
}

// File is an Entry with where its bytes come from: a file (From) or Data.
type File struct {
	Entry
	From string
	Data []byte
	Mode os.FileMode
}

func (f File) open() (io.ReadCloser, error) {
	if f.From != "" {
		return os.Open(f.From)
	}
	return io.NopCloser(bytes.NewReader(f.Data)), nil
}

// IsTar reports whether out names a tar bundle rather than a directory.
func IsTar(out string) bool { return strings.HasSuffix(out, ".tar") }

// Write writes a bundle of files to out: a directory, or a tar file when
// out ends in ".tar". The manifest lists the files sorted by path. An
// existing bundle at out is replaced whole; any other existing directory
// or file is refused.
func Write(out string, m Manifest, files []File) error {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	m.FormatVersion = FormatVersion
	m.Files = nil
	seen := map[string]bool{ManifestName: true}
	for _, f := range files {
		if _, err := fetch.Within(out, f.Path); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if seen[f.Path] {
			return fmt.Errorf("bundle: two files at %s", f.Path)
		}
		seen[f.Path] = true
		m.Files = append(m.Files, f.Entry)
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	manifest = append(manifest, '\n')
	files = append(files, File{Entry: Entry{Path: ManifestName, Size: int64(len(manifest))}, Data: manifest, Mode: 0o644})
	if err := Replaceable(out); err != nil {
		return err
	}
	if IsTar(out) {
		return writeTar(out, files)
	}
	return writeDir(out, files)
}

// Replaceable refuses to overwrite what is not a bundle nodeup wrote: out
// may be missing, an empty directory, or a bundle whose manifest is one
// nodeup writes (a format_version it reads, files at plain paths). A stray manifest.json does not make a directory or a tar
// a bundle, and a symlink at out is refused, never followed.
func Replaceable(out string) error {
	fi, err := os.Lstat(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	notBundle := func(why string) error {
		return fmt.Errorf("bundle: %s exists and is not a bundle nodeup wrote (%s), and nodeup replaces only its own bundles; choose another -o", out, why)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return notBundle("it is a symlink")
	case IsTar(out):
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("bundle: %s exists and is not a file; choose another -o", out)
		}
		f, err := openRegular(out)
		if err != nil {
			return notBundle(err.Error())
		}
		defer f.Close()
		m, err := tarManifest(f, out)
		if err == nil {
			err = m.ours()
		}
		if err != nil {
			return notBundle(err.Error())
		}
		return nil
	case !fi.IsDir():
		return fmt.Errorf("bundle: %s exists and is not a directory; choose another -o (a name ending in .tar writes a tar)", out)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	mf, err := openRegular(filepath.Join(out, ManifestName))
	if err != nil {
		return notBundle(fmt.Sprintf("it is not empty and holds no %s", ManifestName))
	}
	m, err := ReadManifest(mf, filepath.Join(out, ManifestName))
	mf.Close()
	if err == nil {
		err = m.ours()
	}
	if err != nil {
		return notBundle(err.Error())
	}
	return nil
}

// ours checks what every manifest nodeup writes has beyond what
// ReadManifest checks: files.
func (m *Manifest) ours() error {
	if len(m.Files) == 0 {
		return fmt.Errorf("its %s lists no files, and every manifest nodeup writes does", ManifestName)
	}
	return nil
}

// tarManifest reads the manifest of the tar bundle f (named file) and
// rewinds f.
func tarManifest(f *os.File, file string) (*Manifest, error) {
	mr, _, err := fetch.OpenTarMember(f, ManifestName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; it is not a bundle tar (nodeup bundle -o FILE.tar writes one)", file, err)
	}
	m, err := ReadManifest(mr, file+": "+ManifestName)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return m, nil
}

// openRegular opens the regular file p for reading without blocking (a
// fifo would wait for a writer) and without following a symlink there.
func openRegular(p string) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is a %v, not a regular file", p, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeDir lays the files out in a staging directory beside dir and then
// puts it in dir's place.
func writeDir(dir string, files []File) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("bundle: %w; check that %s is writable", err, parent)
	}
	stage, err := os.MkdirTemp(parent, ".nodeup-stage-bundle-*")
	if err != nil {
		return fmt.Errorf("bundle: %w; check that %s is writable", err, parent)
	}
	defer os.RemoveAll(stage)
	for _, f := range files {
		dst, _ := fetch.Within(stage, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if err := copyFile(dst, f); err != nil {
			return err
		}
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return err
	}
	old := stage + "-old"
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bundle: %w", err)
	}
	defer os.RemoveAll(old)
	if err := os.Rename(stage, dir); err != nil {
		_ = os.Rename(old, dir)
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

func copyFile(dst string, f File) error {
	src, err := f.open()
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.Mode)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return fmt.Errorf("bundle: write %s: %w", dst, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tarMode is the mode of a tar bundle: 0644, or 0600 when a file in it is
// for its owner only (the profile's values, which may be secrets): the tar
// gives away every file it holds.
func tarMode(files []File) os.FileMode {
	for _, f := range files {
		if f.Mode.Perm()&0o044 == 0 {
			return 0o600
		}
	}
	return 0o644
}

// writeTar writes the files as one tar, directories first, to a temporary
// file beside file, then renames it.
func writeTar(file string, files []File) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".nodeup-tmp-bundle-*")
	if err != nil {
		return fmt.Errorf("bundle: %w; check that %s is writable", err, filepath.Dir(file))
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	tw := tar.NewWriter(tmp)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // a parent before its children
	for _, d := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, f := range files {
		src, err := f.open()
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: int64(f.Mode.Perm()), Size: f.Size, Format: tar.FormatPAX})
		if err == nil {
			_, err = io.Copy(tw, src)
		}
		src.Close()
		if err != nil {
			return fmt.Errorf("bundle: write %s into %s: %w", f.Path, file, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(tarMode(files)); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
