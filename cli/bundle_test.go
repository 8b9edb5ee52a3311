package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/bundle"
	"github.com/nodeup/nodeup/node/images/imagestest"
	"github.com/nodeup/nodeup/ops"
)

// fakeMirror lays out two artifacts in the upstream layout and returns the
// mirror directory and a profile that uses it.
func fakeMirror(t *testing.T) (mirror, profile string) {
	t.Helper()
	mirror = t.TempDir()
	put := func(rel, content string) string { return putMirror(t, mirror, rel, content) }
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

func readManifest(t *testing.T, dir string) bundle.Manifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m bundle.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, raw)
	}
	return m
}

func TestBundleDirectoryIsAMirror(t *testing.T) {
	mirror, profile := fakeMirror(t)
	out := filepath.Join(t.TempDir(), "bundle")
	code, stdout, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(stdout, "2 artifacts for amd64, the profile (1 files), nodeup for 1 of 1 architectures, and manifest.json") {
		t.Errorf("stdout: %s", stdout)
	}
	b, err := os.ReadFile(filepath.Join(out, "github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"))
	if err != nil || string(b) != "runc binary bytes" {
		t.Fatalf("runc in bundle: %q %v", b, err)
	}
	m := readManifest(t, out)
	if m.FormatVersion != bundle.FormatVersion || m.NodeupVersion == "" || fmt.Sprint(m.Arches) != "[amd64]" || len(m.Files) != 4 {
		t.Fatalf("manifest: %+v", m)
	}
	components := map[string]bundle.Entry{}
	for _, e := range m.Files {
		components[e.Component] = e
		if e.Size == 0 || len(e.SHA256) != 64 {
			t.Errorf("manifest entry %+v", e)
		}
		if e.URL != "" && (!strings.HasPrefix(e.URL, "https://github.com/") || e.Path != strings.TrimPrefix(e.URL, "https://") || e.Arch != "amd64" || e.Version == "") {
			t.Errorf("artifact entry %+v", e)
		}
	}
	if c := components["containerd"]; c.Version != "2.3.4" {
		t.Errorf("containerd entry %+v", c)
	}
	if n := components["nodeup"]; n.Path != "nodeup/nodeup-linux-"+runtime.GOARCH || n.Arch != runtime.GOARCH {
		t.Errorf("nodeup entry %+v", n)
	}
	if p := components["profile"]; p.Path != "profile/p.hcl" {
		t.Errorf("profile entry %+v", p)
	}
	if fi, err := os.Stat(filepath.Join(out, "nodeup/nodeup-linux-"+runtime.GOARCH)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("nodeup in the bundle: %v %v", fi, err)
	}
	if code, stdout, errs := run(t, "bundle", "verify", out); code != 0 || !strings.Contains(stdout, "4 files match manifest.json (format 1") {
		t.Errorf("verify: exit %d\n%s%s", code, stdout, errs)
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
	// Written again, the bundle replaces the old one whole.
	os.WriteFile(filepath.Join(out, "stray"), []byte("x"), 0o644)
	if code, _, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir()); code != 0 {
		t.Fatalf("second bundle: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(out, "stray")); err == nil {
		t.Error("a second bundle into the same directory kept a stray file")
	}
	// A directory that is not a bundle is not replaced.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "precious"), []byte("x"), 0o644)
	if code, _, errs := run(t, "bundle", profile, "-o", other, "--cache", t.TempDir()); code != 1 || !strings.Contains(errs, other+" exists and is not a bundle nodeup wrote (it is not empty and holds no manifest.json)") {
		t.Errorf("bundle into a non-bundle directory: exit %d: %s", code, errs)
	}
}

func TestBundleTar(t *testing.T) {
	_, profile := fakeMirror(t)
	out := filepath.Join(t.TempDir(), "bundle.tar")
	if code, _, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir()); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	members := tarMembers(t, out)
	for _, want := range []string{"manifest.json", "github.com/", "github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64", "profile/p.hcl", "nodeup/nodeup-linux-" + runtime.GOARCH} {
		if _, ok := members[want]; !ok {
			t.Errorf("tar lacks %s", want)
		}
	}
	code, stdout, errs := run(t, "bundle", "verify", out)
	if code != 0 || !strings.Contains(stdout, "ok    github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64") {
		t.Errorf("verify: exit %d\n%s%s", code, stdout, errs)
	}

	// The tar is a mirror: file:///x.tar, or its path.
	for _, m := range []string{"file://" + out, out} {
		p2 := filepath.Join(t.TempDir(), "p.hcl")
		src, _ := os.ReadFile(profile)
		text := regexp.MustCompile(`urls *= \[".*"\]`).ReplaceAllString(string(src), fmt.Sprintf("urls = [%q]", m))
		os.WriteFile(p2, []byte(text), 0o644)
		if code, _, errs := run(t, "bundle", p2, "-o", filepath.Join(t.TempDir(), "again"), "--cache", t.TempDir()); code != 0 {
			t.Errorf("bundle from the tar %s: exit %d: %s", m, code, errs)
		}
	}
}

// bundle verify names each file that differs from the manifest and says
// what to do; a manifest it cannot read is an error of its own.
func TestBundleVerifyFindsTampering(t *testing.T) {
	_, profile := fakeMirror(t)
	out := filepath.Join(t.TempDir(), "bundle")
	if code, _, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir()); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	runc := "github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"
	os.WriteFile(filepath.Join(out, runc), []byte("runc binary byteZ"), 0o644)
	os.Remove(filepath.Join(out, "profile/p.hcl"))
	os.WriteFile(filepath.Join(out, "extra"), []byte("x"), 0o644)
	code, stdout, errs := run(t, "bundle", "verify", out)
	for _, want := range []string{
		"FAIL  " + runc + ": " + runc + " has sha256 ",
		"the file is damaged or replaced; write the bundle again",
		"FAIL  profile/p.hcl: profile/p.hcl is listed in the manifest but missing from " + out,
		"FAIL  extra: " + out + " holds extra, which the manifest does not list",
		"ok    github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	if code != 1 || !strings.Contains(errs, "3 of 5 files do not match manifest.json") {
		t.Errorf("exit %d: %s", code, errs)
	}

	m := readManifest(t, out)
	m.FormatVersion = 99
	raw, _ := json.Marshal(m)
	os.WriteFile(filepath.Join(out, "manifest.json"), raw, 0o644)
	if code, _, errs := run(t, "bundle", "verify", out); code != 1 || !strings.Contains(errs, "has format_version 99, and this nodeup reads format 1") {
		t.Errorf("newer format: exit %d: %s", code, errs)
	}
	if code, _, errs := run(t, "bundle", "verify", t.TempDir()); code != 1 || !strings.Contains(errs, "is not a bundle") {
		t.Errorf("not a bundle: exit %d: %s", code, errs)
	}
}

// --arch is checked, and a profile that fixes node.arch is for that one
// only (ops.TestBundleArches lists each architecture's artifacts).
func TestBundleArches(t *testing.T) {
	_, fixed := fakeMirror(t)
	code, _, errs := run(t, "bundle", fixed, "-o", filepath.Join(t.TempDir(), "b"), "--arch", "arm64")
	if code != 1 || !strings.Contains(errs, `node.arch is "amd64", so the profile is for amd64 only; remove node.arch to bundle it for --arch arm64`) {
		t.Errorf("--arch against node.arch: exit %d: %s", code, errs)
	}
	for _, c := range []struct{ args, want string }{
		{"--arch=riscv", `--arch "riscv": use amd64 or arm64`},
		{"--nodeup-binary=arm64", `--nodeup-binary "arm64": want ARCH=FILE`},
		{"--nodeup-binary=arm64=/bin/sh", "--nodeup-binary arm64=...: the bundle is for amd64; add --arch arm64"},
	} {
		code, _, errs := run(t, "bundle", fixed, "-o", filepath.Join(t.TempDir(), "b"), "--cache", t.TempDir(), c.args)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d: %s", c.args, code, errs)
		}
	}
}

// Downloads, image archives among them, run at once: the server answers
// only when all requests are in, so a bundle that fetched one at a time
// would never finish.
func TestBundleDownloadsInParallel(t *testing.T) {
	var pause bytes.Buffer
	imagestest.Image{Name: "registry.k8s.io/pause:3.10", Files: map[string]imagestest.File{"pause": {}}}.OCI(&pause)
	bodies := map[string]string{"/c.tar.gz": "containerd bytes", "/runc": "runc bytes", "/pause.tar": pause.String()}
	var mu sync.Mutex
	arrived := 0
	both := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if arrived++; arrived == len(bodies) {
			close(both)
		}
		mu.Unlock()
		<-both
		w.Write([]byte(bodies[r.URL.Path]))
	}))
	defer srv.Close()
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	profile := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(profile, []byte(fmt.Sprintf(`node { arch = "amd64" }
containerd {
  version = "2.3.4"
  url     = "%s/c.tar.gz"
  sha256  = "%s"
}
runc {
  version = "1.4.3"
  url     = "%s/runc"
  sha256  = "%s"
}
image "registry.k8s.io/pause:3.10" {
  url    = "%s/pause.tar"
  sha256 = "%s"
}
`, srv.URL, sum(bodies["/c.tar.gz"]), srv.URL, sum(bodies["/runc"]), srv.URL, sum(bodies["/pause.tar"]))), 0o644)
	code, _, errs := run(t, "bundle", profile, "-o", filepath.Join(t.TempDir(), "b"), "--cache", t.TempDir(), "--parallelism", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
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
	var cc ops.CloudConfig
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

// bundle --list says what a bundle would hold and from where, downloading
// nothing; --from takes the artifacts from a source the profile does not
// name, so an air-gapped profile (upstream = false, its mirror not
// reachable here) bundles from another mirror.
func TestBundleListAndFrom(t *testing.T) {
	mirror, profile := fakeMirror(t)
	src, _ := os.ReadFile(profile)
	gone := filepath.Join(t.TempDir(), "not-here")
	airgapped := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(airgapped, []byte(strings.Replace(string(src), "file://"+mirror, "file://"+gone, 1)), 0o644)
	cache := filepath.Join(t.TempDir(), "cache")

	code, out, errs := nodeup(t, "bundle", airgapped, "--list", "--from", "file://"+mirror, "--cache", cache)
	if code != 0 {
		t.Fatalf("bundle --list: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz  containerd 2.3.4 (amd64)",
		"    from file://" + mirror + "/github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64\n",
		"    from file://" + gone + "/github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64\n",
		"bundle: 2 files for amd64, downloaded from the first source that answers; nothing was downloaded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bundle --list lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(cache); err == nil {
		t.Error("bundle --list made the download cache")
	}
	code, out, _ = nodeup(t, "bundle", airgapped, "--list", "--json")
	var doc struct {
		Files []ops.ListedArchive
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.Files) != 2 || doc.Files[0].SHA256 == "" || doc.Files[0].Path == "" || len(doc.Files[0].Arches) != 1 {
		t.Errorf("bundle --list --json: exit %d %v\n%s", code, err, out)
	}

	// As written, the profile's only mirror is gone: bundling fails; from
	// the other mirror it works.
	out1 := filepath.Join(t.TempDir(), "b1")
	if code, _, _ := nodeup(t, "bundle", airgapped, "-o", out1, "--cache", cache); code == 0 {
		t.Error("bundled from a mirror that is gone")
	}
	out2 := filepath.Join(t.TempDir(), "b2")
	if code, out, errs := nodeup(t, "bundle", airgapped, "-o", out2, "--cache", cache, "--from", "file://"+mirror); code != 0 {
		t.Fatalf("bundle --from: exit %d\n%s%s", code, out, errs)
	}
	if m := readManifest(t, out2); len(m.Files) < 2 {
		t.Errorf("manifest %+v", m)
	}
	// --from upstream lists each file's upstream URL first, whatever the
	// profile's mirror block says.
	code, out, _ = nodeup(t, "bundle", airgapped, "--list", "--from", "upstream")
	if code != 0 || !strings.Contains(out, "    from https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64\n    from file://"+gone) {
		t.Errorf("bundle --list --from upstream: exit %d\n%s", code, out)
	}
	if code, _, errs := nodeup(t, "bundle", airgapped, "--list", "--from", "ftp://x"); code != 1 || !strings.Contains(errs, `--from "ftp://x": want an http://, https:// or file:///absolute/path URL`) {
		t.Errorf("--from ftp: exit %d\n%s", code, errs)
	}
	if code, _, errs := nodeup(t, "bundle", airgapped); code != 1 || !strings.Contains(errs, `required flag(s) "output" not set`) {
		t.Errorf("bundle without -o: exit %d\n%s", code, errs)
	}
}

// An -o that is not a bundle nodeup wrote is refused before anything is
// downloaded, and left as it was.
func TestBundleRefusesForeignOutputFirst(t *testing.T) {
	_, profile := fakeMirror(t)
	web := t.TempDir()
	os.WriteFile(filepath.Join(web, "manifest.json"), []byte(`{"name":"a web app"}`), 0o644)
	os.WriteFile(filepath.Join(web, "index.html"), []byte("hello"), 0o644)
	cache := filepath.Join(t.TempDir(), "cache")
	code, _, errs := nodeup(t, "bundle", profile, "-o", web, "--cache", cache)
	if code != 1 || !strings.Contains(errs, "is not a bundle nodeup wrote") {
		t.Fatalf("bundle -o a web app: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(cache); err == nil {
		t.Error("downloads began before the output was refused")
	}
	if b, _ := os.ReadFile(filepath.Join(web, "index.html")); string(b) != "hello" {
		t.Error("the refused output was changed")
	}
}

// putMirror writes content at rel in mirror and returns its sha256.
func putMirror(t *testing.T, mirror, rel, content string) string {
	t.Helper()
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

// A bundle for two architectures of versions nodeup does not pin stores
// each architecture's own file, checked against its own sum; one sum for
// both is refused at its line before anything is downloaded, so an arm64
// path never holds the amd64 file.
func TestBundleTwoArchesOwnSums(t *testing.T) {
	mirror := t.TempDir()
	const containerd = "github.com/containerd/containerd/releases/download/v2.3.99/containerd-2.3.99-linux-%s.tar.gz"
	const runc = "downloads.internal/runc/1.4.99/runc.%s"
	sums := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		sums["containerd "+arch] = putMirror(t, mirror, fmt.Sprintf(containerd, arch), "containerd for "+arch)
		sums["runc "+arch] = putMirror(t, mirror, fmt.Sprintf(runc, arch), "runc for "+arch)
	}
	profile := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(profile, []byte(fmt.Sprintf(`mirror {
  urls     = ["file://%s"]
  upstream = false
}
containerd {
  version = "2.3.99"
  sha256  = { amd64 = "%s", arm64 = "%s" }
}
runc {
  version = "1.4.99"
  url     = "https://downloads.internal/runc/1.4.99/runc.{arch}"
  sha256  = { amd64 = "%s", arm64 = "%s" }
}
`, mirror, sums["containerd amd64"], sums["containerd arm64"], sums["runc amd64"], sums["runc arm64"])), 0o644)
	cache := t.TempDir()
	out := filepath.Join(t.TempDir(), "bundle")
	code, stdout, errs := run(t, "bundle", profile, "-o", out, "--cache", cache, "--arch", "amd64", "--arch", "arm64")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(stdout, "4 artifacts for amd64, arm64") {
		t.Errorf("stdout: %s", stdout)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		for name, rel := range map[string]string{"containerd": containerd, "runc": runc} {
			b, err := os.ReadFile(filepath.Join(out, fmt.Sprintf(rel, arch)))
			if err != nil || string(b) != name+" for "+arch {
				t.Errorf("%s for %s in the bundle: %q %v", name, arch, b, err)
			}
		}
	}
	for _, e := range readManifest(t, out).Files {
		if want := sums[e.Component+" "+e.Arch]; e.Component != "nodeup" && e.Component != "profile" && e.SHA256 != want {
			t.Errorf("manifest %s %s: sha256 %s, want %s", e.Component, e.Arch, e.SHA256, want)
		}
	}

	// One sum for both, with the amd64 file already in the cache: refused
	// at the attribute's line.
	src, _ := os.ReadFile(profile)
	one := regexp.MustCompile(`(?m)^(  sha256  = )\{ amd64 = ("[0-9a-f]+"), arm64 = "[0-9a-f]+" \}`).ReplaceAllString(string(src), "$1$2")
	os.WriteFile(profile, []byte(one), 0o644)
	out2 := filepath.Join(t.TempDir(), "bundle")
	code, _, errs = run(t, "bundle", profile, "-o", out2, "--cache", cache, "--arch", "amd64", "--arch", "arm64")
	errs = strings.Join(strings.Fields(errs), " ")
	if code != 1 || !strings.Contains(errs, profile+":7:13: Error: One sha256 for several architectures") ||
		!strings.Contains(errs, `Give each its own sum: sha256 = { amd64 = "<64 hex digits>", arm64 = "<64 hex digits>" }`) {
		t.Errorf("one sum for two architectures: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(out2); err == nil {
		t.Error("a refused bundle was written")
	}
	// For one architecture, the string is that architecture's sum.
	if code, _, errs := run(t, "bundle", profile, "-o", out2, "--cache", cache, "--arch", "amd64"); code != 0 {
		t.Errorf("one sum, one architecture: exit %d: %s", code, errs)
	}
}
