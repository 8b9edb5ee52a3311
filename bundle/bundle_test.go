package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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

// A manifest.json does not make a directory or a tar a bundle: only one
// whose manifest is nodeup's and whose contents it lists is replaced, and
// a link at -o is never followed.
func TestWriteReplacesOnlyItsOwnBundles(t *testing.T) {
	files := []File{entry("runc", "r/runc", "runc")}
	stray, _ := json.Marshal(map[string]any{"name": "my-app", "version": "1.0.0"})
	forged, _ := json.Marshal(Manifest{FormatVersion: 1, Files: []Entry{}})
	for name, setup := range map[string]func(out string){
		"a project with a manifest.json": func(out string) {
			os.MkdirAll(out, 0o755)
			os.WriteFile(filepath.Join(out, ManifestName), stray, 0o644)
			os.WriteFile(filepath.Join(out, "main.go"), nil, 0o644)
		},
		"a home directory with a manifest of no files": func(out string) {
			os.MkdirAll(out, 0o755)
			os.WriteFile(filepath.Join(out, ManifestName), forged, 0o644)
			os.WriteFile(filepath.Join(out, ".bashrc"), nil, 0o644)
		},
		"a fifo manifest": func(out string) {
			os.MkdirAll(out, 0o755)
			syscall.Mkfifo(filepath.Join(out, ManifestName), 0o644)
		},
		"a link to a bundle": func(out string) {
			b := out + "-real"
			if err := Write(b, Manifest{}, files); err != nil {
				t.Fatal(err)
			}
			os.Symlink(b, out)
		},
		"a tar with a manifest of no files": func(out string) {
			out += ".tar"
			f, _ := os.Create(out)
			tw := tar.NewWriter(f)
			for _, m := range []struct{ name, data string }{{"home/.ssh/id_ed25519", "key"}, {ManifestName, string(forged)}} {
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.data)), Mode: 0o644})
				tw.Write([]byte(m.data))
			}
			tw.Close()
			f.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			setup(out)
			if strings.Contains(name, "tar") {
				out += ".tar"
			}
			before, _ := os.Lstat(out)
			err := Write(out, Manifest{}, files)
			if err == nil || !strings.Contains(err.Error(), "is not a bundle nodeup wrote") {
				t.Errorf("got %v", err)
			}
			if after, _ := os.Lstat(out); !os.SameFile(before, after) {
				t.Errorf("%s was replaced", out)
			}
		})
	}
}

// A tar bundle that holds a file for its owner only (the profile's values)
// is itself for its owner only.
func TestTarBundleModeFollowsItsFiles(t *testing.T) {
	dir := t.TempDir()
	vars := entry(ComponentProfile, "profile/nodeup.auto.vars.hcl", "token = \"x\"\n")
	vars.Mode = 0o600
	for _, c := range []struct {
		files []File
		want  os.FileMode
	}{
		{[]File{entry("runc", "r/runc", "runc")}, 0o644},
		{[]File{entry("runc", "r/runc", "runc"), vars}, 0o600},
	} {
		out := filepath.Join(dir, "b.tar")
		os.Remove(out)
		if err := Write(out, Manifest{}, c.files); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(out); fi.Mode().Perm() != c.want {
			t.Errorf("%d files: mode %v, want %v", len(c.files), fi.Mode(), c.want)
		}
	}
}

// bundle verify reads without blocking and hashes no more than what is
// there: a fifo manifest or bundle, and a sparse member, fail at once.
func TestVerifyIsBounded(t *testing.T) {
	dir := t.TempDir()
	syscall.Mkfifo(filepath.Join(dir, ManifestName), 0o644)
	fifo := filepath.Join(t.TempDir(), "b.tar")
	syscall.Mkfifo(fifo, 0o644)
	for _, p := range []string{dir, fifo} {
		if _, _, err := Verify(p); err == nil || !strings.Contains(err.Error(), "not a") {
			t.Errorf("%s: %v", p, err)
		}
	}

	// A member that declares 4 GiB in a tar of a few KiB: its manifest says
	// so too, so only the bound stops the hashing.
	out := filepath.Join(t.TempDir(), "sparse.tar")
	f, _ := os.Create(out)
	tw := tar.NewWriter(f)
	m, _ := json.Marshal(Manifest{FormatVersion: 1, Files: []Entry{{Path: "big", Size: 4 << 30, SHA256: strings.Repeat("0", 64)}}})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ManifestName, Size: int64(len(m)), Mode: 0o644})
	tw.Write(m)
	// A PAX 1.0 sparse member: a map of one byte at 4 GiB-1, then that
	// byte; the rest reads as zeros. archive/tar writes no sparse member,
	// so its headers are made by hand.
	tw.Flush()
	records := ""
	for _, kv := range []string{"GNU.sparse.major=1", "GNU.sparse.minor=0", "GNU.sparse.name=big", "GNU.sparse.realsize=4294967296"} {
		n := len(kv) + 2
		n += len(strconv.Itoa(n + 2)) // the length counts its own digits
		records += strconv.Itoa(n) + " " + kv + "\n"
	}
	data := []byte("1\n4294967295\n1\n")
	data = append(append(data, make([]byte, 512-len(data))...), 'x')
	f.Write(rawHeader("PaxHeaders/big", 'x', []byte(records)))
	f.Write(rawHeader("GNUSparseFile.0/big", '0', data))
	f.Write(make([]byte, 1024))
	f.Close()
	if fi, _ := os.Stat(out); fi.Size() > 10<<10 {
		t.Fatalf("the tar has %d bytes", fi.Size())
	}
	done := make(chan error, 1)
	var checks []Check
	go func() {
		var err error
		_, checks, err = Verify(out)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if len(checks) != 1 || checks[0].OK || !strings.Contains(checks[0].Problem, "more than the tar holds") {
			t.Errorf("checks %+v", checks)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("verify hashes the holes of a sparse member")
	}
}

// rawHeader is a ustar header for name, then data padded to a block.
func rawHeader(name string, typ byte, data []byte) []byte {
	h := make([]byte, 512)
	copy(h, name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", len(data)))
	copy(h[136:], "00000000000\x00")
	h[156] = typ
	copy(h[257:], "ustar\x0000")
	copy(h[148:], "        ")
	sum := 0
	for _, b := range h {
		sum += int(b)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	pad := (512 - len(data)%512) % 512
	return append(append(h, data...), make([]byte, pad)...)
}

// A profile file that holds a secret is listed without its sha256 (the
// manifest is world-readable); verify checks it is there with its size,
// and still catches a damaged one by its size.
func TestSensitiveProfileFile(t *testing.T) {
	for _, out := range []string{filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "b.tar")} {
		secret := []byte("pw = \"hunter2\"\n")
		files := []File{entry("runc", "example.com/r/runc.amd64", "runc"), ProfileFile("nodeup.auto.vars.hcl", secret, 0o600, true),
			ProfileFile("p.hcl", []byte("node {}\n"), 0o600, false)}
		if got := files[1].ShownSHA256(); got != "(sensitive)" {
			t.Errorf("shown as %q", got)
		}
		if err := Write(out, Manifest{NodeupVersion: "v1", Arches: []string{"amd64"}}, files); err != nil {
			t.Fatal(err)
		}
		m, checks, err := Verify(out)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(m)
		s := sha256.Sum256(secret)
		if strings.Contains(string(raw), hex.EncodeToString(s[:])) || !strings.Contains(string(raw), `"sensitive":true`) {
			t.Errorf("%s: manifest %s", out, raw)
		}
		for _, c := range checks {
			if !c.OK {
				t.Errorf("%s: %+v", out, c)
			}
		}
		if IsTar(out) {
			continue
		}
		os.WriteFile(filepath.Join(out, "profile", "nodeup.auto.vars.hcl"), []byte("pw = \"x\"\n"), 0o600)
		if _, checks, _ := Verify(out); checks[1].OK {
			t.Errorf("a shorter sensitive file passed: %+v", checks)
		}
	}
}

// What verify reads of a directory bundle's file is bounded by the size the
// manifest declares: a file larger than it declares fails at once, unread.
func TestVerifyDirReadsAtMostTheDeclaredSize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b")
	if err := Write(out, Manifest{NodeupVersion: "v1", Arches: []string{"amd64"}}, []File{entry("runc", "example.com/r/runc", "runc")}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(out, "example.com/r/runc"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 40) // sparse: a terabyte of holes
	f.Close()
	_, checks, err := Verify(out)
	if err != nil || len(checks) != 1 || checks[0].OK || !strings.Contains(checks[0].Problem, "has 1099511627776 bytes, the manifest says 4") {
		t.Errorf("%v %+v", err, checks)
	}
}
