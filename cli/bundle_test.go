package cli

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// fakeMirror lays out two artifacts in the upstream layout and returns the
// mirror directory and a profile that uses it.
func fakeMirror(t *testing.T) (mirror, profile string) {
	t.Helper()
	mirror = t.TempDir()
	put := func(rel, content string) string {
		p := filepath.Join(mirror, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256([]byte(content))
		return hex.EncodeToString(s[:])
	}
	cSum := put("github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz", "containerd archive bytes")
	rSum := put("github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64", "runc binary bytes")
	profile = filepath.Join(t.TempDir(), "p.hcl")
	text := fmt.Sprintf(`
mirror {
  urls     = ["file://%s"]
  upstream = false
}
node { arch = "amd64" }
containerd {
  version = "2.3.4"
  sha256  = "%s"
}
runc {
  version = "1.4.3"
  sha256  = "%s"
}
`, mirror, cSum, rSum)
	if err := os.WriteFile(profile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return mirror, profile
}

func TestBundleDirectoryIsAMirror(t *testing.T) {
	mirror, profile := fakeMirror(t)
	out := filepath.Join(t.TempDir(), "bundle")
	code, stdout, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(stdout, "2 artifacts and manifest.json") {
		t.Errorf("stdout: %s", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"))
	if err != nil || string(b) != "runc binary bytes" {
		t.Fatalf("runc in bundle: %q %v", b, err)
	}
	var m struct{ Artifacts []ManifestEntry }
	raw, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Artifacts) != 2 {
		t.Fatalf("manifest: %v\n%s", err, raw)
	}
	for _, a := range m.Artifacts {
		if !strings.HasPrefix(a.URL, "https://github.com/") || a.Path != strings.TrimPrefix(a.URL, "https://") || a.Size == 0 || len(a.SHA256) != 64 {
			t.Errorf("manifest entry %+v", a)
		}
	}

	// The bundle serves as the mirror of the same profile.
	p2 := filepath.Join(t.TempDir(), "p.hcl")
	src, _ := os.ReadFile(profile)
	if err := os.WriteFile(p2, []byte(strings.Replace(string(src), "file://"+mirror, "file://"+out, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "bundle", p2, "-o", filepath.Join(t.TempDir(), "again"), "--cache", t.TempDir()); code != 0 {
		t.Errorf("bundle from a bundle: exit %d: %s", code, errs)
	}
}

func TestBundleTar(t *testing.T) {
	_, profile := fakeMirror(t)
	out := filepath.Join(t.TempDir(), "bundle.tar")
	if code, _, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir()); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	for _, want := range []string{"manifest.json", "github.com/", "github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"} {
		if !names[want] {
			t.Errorf("tar lacks %s: %v", want, names)
		}
	}
}

func TestBundleRefusesWrongChecksum(t *testing.T) {
	mirror, profile := fakeMirror(t)
	os.WriteFile(filepath.Join(mirror, "github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"), []byte("tampered"), 0o644)
	out := filepath.Join(t.TempDir(), "bundle")
	code, _, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir())
	if code != 1 || !strings.Contains(errs, "runc.amd64") || !strings.Contains(errs, "sha256") {
		t.Errorf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err == nil {
		t.Error("a failed bundle wrote a manifest")
	}
}

func TestCloudInit(t *testing.T) {
	_, profile := fakeMirror(t)
	sum := strings.Repeat("ab", 32)
	code, _, errs := run(t, "cloud-init", profile, "--nodeup-url", "https://dl.internal/nodeup-{arch}", "--nodeup-sha256", sum, "--arch", "arm64", "--var", "x=1")
	if code != 1 || !strings.Contains(errs, `declares no variable "x"`) {
		t.Errorf("undeclared --var: exit %d %s", code, errs)
	}
	var out string
	code, out, errs = run(t, "cloud-init", profile, "--nodeup-url", "https://dl.internal/nodeup-{arch}", "--nodeup-sha256", sum, "--arch", "arm64")
	if code != 0 || !strings.HasPrefix(out, "#cloud-config\n") {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var cc cloudConfig
	if err := yaml.Unmarshal([]byte(out), &cc); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(profile)
	if len(cc.WriteFiles) != 1 || cc.WriteFiles[0].Content != string(src) || cc.WriteFiles[0].Path != "/etc/nodeup/profile.d/p.hcl" {
		t.Errorf("write_files: %+v", cc.WriteFiles)
	}
	if len(cc.RunCmd) != 3 || cc.RunCmd[0][len(cc.RunCmd[0])-1] != "https://dl.internal/nodeup-arm64" || !strings.Contains(strings.Join(cc.RunCmd[1], " "), sum) {
		t.Errorf("runcmd: %q", cc.RunCmd)
	}
	if got := strings.Join(cc.RunCmd[2][:3], " "); got != "/usr/local/bin/nodeup apply /etc/nodeup/profile.d" {
		t.Errorf("apply command: %q", got)
	}
	if code, _, errs := run(t, "cloud-init", profile, "--nodeup-url", "https://dl.internal/nodeup"); code != 1 || !strings.Contains(errs, "--nodeup-sha256") {
		t.Errorf("url without sha256: exit %d %s", code, errs)
	}
}

// A profile URL whose path climbs with ".." is refused when the profile is
// loaded: bundle never writes outside -o, whatever the mirror serves.
func TestBundleRefusesURLOutsideOutput(t *testing.T) {
	base := t.TempDir()
	mirror := filepath.Join(base, "mirror", "m")
	os.MkdirAll(filepath.Join(mirror, "example.com/r"), 0o755)
	content := "escaped"
	os.WriteFile(filepath.Join(base, "mirror", "escape.bin"), []byte(content), 0o644)
	s := sha256.Sum256([]byte(content))
	for _, u := range []string{"https://example.com/r/../../../escape.bin", "https://example.com/r/%2e%2e/%2e%2e/%2e%2e/escape.bin"} {
		profile := filepath.Join(t.TempDir(), "p.hcl")
		os.WriteFile(profile, []byte(fmt.Sprintf(`mirror {
  urls     = ["file://%s"]
  upstream = false
}
containerd {
  version = "2.3.4"
  source  = "package"
}
runc {
  version = "1.4.3"
  sha256  = "%s"
  url     = "%s"
}
`, mirror, hex.EncodeToString(s[:]), u)), 0o644)
		out := filepath.Join(base, "out", "bundle")
		code, _, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir())
		if code != 1 || !strings.Contains(errs, profile+":12:13: Error: Invalid URL") || !strings.Contains(errs, `".." segment`) {
			t.Errorf("%s: exit %d: %s", u, code, errs)
		}
		if es, err := os.ReadDir(filepath.Join(base, "out")); err == nil {
			t.Errorf("%s: wrote %v beside -o", u, es)
		}
	}
}
