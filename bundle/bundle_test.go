package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func entry(component, p, data string) File {
	s := sha256.Sum256([]byte(data))
	return File{Entry: Entry{Component: component, Path: p, SHA256: hex.EncodeToString(s[:]), Size: int64(len(data))}, Data: []byte(data), Mode: 0o644}
}

func TestWriteThenVerify(t *testing.T) {
	for _, out := range []string{filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "b.tar")} {
		files := []File{entry("runc", "example.com/r/runc.amd64", "runc"), entry(ComponentProfile, "profile/p.hcl", "node {}\n")}
		if err := Write(out, Manifest{NodeupVersion: "v1.2.3", Arches: []string{"amd64"}}, files); err != nil {
			t.Fatal(err)
		}
		m, checks, err := Verify(out)
		if err != nil {
			t.Fatal(err)
		}
		if m.FormatVersion != FormatVersion || m.NodeupVersion != "v1.2.3" || len(checks) != 2 || !checks[0].OK || !checks[1].OK {
			t.Errorf("%s: %+v %+v", out, m, checks)
		}
	}
}

// A manifest path that leaves the bundle is refused when written and when
// read.
func TestManifestPathsStayInside(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "b"), Manifest{}, []File{entry("x", "../escape", "x")}); err == nil || !strings.Contains(err.Error(), "is not a path below") {
		t.Errorf("write: %v", err)
	}
	dir := t.TempDir()
	for _, p := range []string{"../escape", "/etc/passwd", "a/../../b", "manifest.json"} {
		raw, _ := json.Marshal(Manifest{FormatVersion: 1, Files: []Entry{{Path: p}}})
		os.WriteFile(filepath.Join(dir, ManifestName), raw, 0o644)
		if _, _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "not a plain path inside the bundle") {
			t.Errorf("%s: %v", p, err)
		}
	}
	raw, _ := json.Marshal(map[string]any{"artifacts": []Entry{}})
	os.WriteFile(filepath.Join(dir, ManifestName), raw, 0o644)
	if _, _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "has no format_version: an older nodeup wrote it") {
		t.Errorf("old manifest: %v", err)
	}
}

// A tar bundle holds regular files and directories only.
func TestVerifyTarRefusesLinks(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.tar")
	if err := Write(out, Manifest{}, []File{entry("runc", "r/runc", "runc")}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(out, os.O_RDWR, 0)
	// Append a symlink after the last member: rewrite the end marker.
	fi, _ := f.Stat()
	f.Seek(fi.Size()-1024, 0)
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "r/link", Linkname: "/etc/shadow"})
	tw.Close()
	f.Close()
	_, checks, err := Verify(out)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, c := range checks {
		if !c.OK {
			bad++
			if c.Path != "r/link" || !strings.Contains(c.Problem, "is not a regular file") {
				t.Errorf("check %+v", c)
			}
		}
	}
	if bad != 1 {
		t.Errorf("checks: %+v", checks)
	}
}

// Only a bundle is replaced: another tar or a directory with other files
// at -o is refused.
func TestWriteReplacesOnlyBundles(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "backup.tar")
	os.WriteFile(other, make([]byte, 1024), 0o644) // an empty tar
	files := []File{entry("runc", "r/runc", "runc")}
	if err := Write(other, Manifest{}, files); err == nil || !strings.Contains(err.Error(), other+" exists and is not a bundle") {
		t.Errorf("over another tar: %v", err)
	}
	b := filepath.Join(dir, "b.tar")
	for i := 0; i < 2; i++ {
		if err := Write(b, Manifest{}, files); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	d := filepath.Join(dir, "d")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "notes"), nil, 0o644)
	if err := Write(d, Manifest{}, files); err == nil || !strings.Contains(err.Error(), "holds no manifest.json") {
		t.Errorf("over a directory: %v", err)
	}
}
