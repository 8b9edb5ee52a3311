package plan

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/templates"
)

var update = flag.Bool("update", false, "rewrite golden files")

func load(t *testing.T, path string, opts Options) (*Loaded, hcl.Diagnostics) {
	t.Helper()
	if opts.HostArch == "" {
		opts.HostArch = "amd64"
	}
	return Load(path, opts)
}

// wantPattern reads expectations written in invalid profiles:
// "# want LINE: text" — an error whose subject starts on LINE (0: no
// subject) and whose summary or detail contains text.
var wantPattern = regexp.MustCompile(`^#\s*want\s+(\d+):\s*(.+)$`)

type want struct {
	line int
	text string
}

func wants(t *testing.T, path string) []want {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []want
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := wantPattern.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			n, _ := strconv.Atoi(m[1])
			out = append(out, want{n, m[2]})
		}
	}
	return out
}

func TestInvalidProfiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.hcl")
	if len(files) < 20 {
		t.Fatalf("only %d invalid profiles found", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			expected := wants(t, path)
			if len(expected) == 0 {
				t.Fatalf("%s has no '# want LINE: text' comment", path)
			}
			loaded, diags := load(t, path, Options{})
			if loaded.Profile != nil {
				t.Fatalf("profile accepted; want %d errors", len(expected))
			}
			var errs hcl.Diagnostics
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, d)
				}
			}
			for _, w := range expected {
				found := false
				for _, d := range errs {
					line := 0
					if d.Subject != nil {
						line = d.Subject.Start.Line
						if d.Subject.Filename != path {
							t.Errorf("diagnostic %q names file %s, want %s", d.Summary, d.Subject.Filename, path)
						}
					}
					if line == w.line && strings.Contains(d.Summary+": "+d.Detail, w.text) {
						found = true
					}
				}
				if !found {
					t.Errorf("want an error at line %d containing %q; got:\n%s", w.line, w.text, diagText(errs))
				}
			}
			if len(errs) != len(expected) {
				t.Errorf("got %d errors, want %d:\n%s", len(errs), len(expected), diagText(errs))
			}
		})
	}
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		b.WriteString("  line " + strconv.Itoa(line) + ": " + d.Summary + ": " + d.Detail + "\n")
	}
	return b.String()
}

func TestShippedProfilesValidate(t *testing.T) {
	files, _ := filepath.Glob("../profiles/*.hcl")
	if len(files) < 5 {
		t.Fatalf("only %d profiles in profiles/", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			opts := Options{}
			if filepath.Base(path) == "demo.hcl" {
				opts.VarFiles = []string{"testdata/demo-vars.hcl"}
			}
			loaded, diags := load(t, path, opts)
			if diags.HasErrors() {
				t.Fatalf("%s", diagText(diags))
			}
			g, err := Build(loaded.Profile)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"artifact:containerd", "file:/etc/containerd/config.toml", steps.UnitID(paths.ContainerdService), steps.VerifyID} {
				if !g.Has(id) && !(id == "artifact:containerd" && g.Has("package:containerd")) {
					t.Errorf("graph lacks %s", id)
				}
			}
		})
	}
}

// TestCases renders each testdata/cases/NAME/profile.hcl (or, without one,
// profiles/NAME.hcl) and compares every file, and the graph's text form,
// with the golden files. A file that most cases render alike is kept once
// in testdata/common; a case's golden/ holds only the files where it
// differs. The graph lists every file a case renders, so a file that
// disappears shows there.
func TestCases(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/cases/*")
	if len(dirs) == 0 {
		t.Fatal("no cases")
	}
	rendered := map[string]map[string][]byte{} // case dir -> golden-relative path -> content
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rendered[dir] = renderCase(t, dir)
		})
	}
	if t.Failed() {
		return
	}
	if *update {
		writeGolden(t, rendered)
		return
	}
	used := map[string]bool{}
	for _, dir := range dirs {
		for rel, b := range rendered[dir] {
			path := filepath.Join(dir, rel)
			if rel != "graph.txt" && !fileExists(path) {
				path = filepath.Join(commonDir, strings.TrimPrefix(rel, "golden"+string(filepath.Separator)))
				used[path] = true
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s: %s: %v (run go test ./plan -update)", dir, rel, err)
				continue
			}
			if string(want) != string(b) {
				t.Errorf("%s: %s differs from %s (run go test ./plan -update and review the diff):\n--- got\n%s", dir, rel, path, b)
			}
		}
		filepath.Walk(filepath.Join(dir, "golden"), func(path string, info os.FileInfo, err error) error {
			rel, _ := filepath.Rel(dir, path)
			if err == nil && !info.IsDir() && rendered[dir][rel] == nil {
				t.Errorf("golden file %s is no longer rendered", path)
			}
			return nil
		})
	}
	filepath.Walk(commonDir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !used[path] {
			t.Errorf("%s is no case's golden file any more (run go test ./plan -update)", path)
		}
		return nil
	})
}

// commonDir holds the golden files most cases share.
const commonDir = "testdata/common"

// renderCase renders one case: its files under golden/ and its graph.
func renderCase(t *testing.T, dir string) map[string][]byte {
	opts := Options{}
	if vf := filepath.Join(dir, "vars.hcl"); fileExists(vf) {
		opts.VarFiles = []string{vf}
	}
	// A case without its own profile is the shipped profile of its name.
	path := filepath.Join(dir, "profile.hcl")
	if !fileExists(path) {
		path = filepath.Join("../profiles", filepath.Base(dir)+".hcl")
	}
	loaded, diags := load(t, path, opts)
	if diags.HasErrors() {
		t.Fatalf("%s", diagText(diags))
	}
	files, err := templates.Render(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for _, f := range files {
		got[filepath.Join("golden", filepath.FromSlash(f.Path))] = f.Content
	}
	g, err := Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	got["graph.txt"] = []byte(g.Text())
	return got
}

// writeGolden rewrites the golden files: each file's most common content
// goes to commonDir, and a case keeps its own copy where it differs.
func writeGolden(t *testing.T, rendered map[string]map[string][]byte) {
	counts := map[string]map[string]int{} // rel -> content -> cases
	for _, files := range rendered {
		for rel, b := range files {
			if counts[rel] == nil {
				counts[rel] = map[string]int{}
			}
			counts[rel][string(b)]++
		}
	}
	common := map[string]string{}
	for rel, byContent := range counts {
		best, n := "", 0
		for content, c := range byContent {
			if c > n || (c == n && content < best) {
				best, n = content, c
			}
		}
		if n > 1 && rel != "graph.txt" {
			common[rel] = best
		}
	}
	write := func(path string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(commonDir)
	for rel, content := range common {
		write(filepath.Join(commonDir, strings.TrimPrefix(rel, "golden"+string(filepath.Separator))), []byte(content))
	}
	for dir, files := range rendered {
		os.RemoveAll(filepath.Join(dir, "golden"))
		for rel, b := range files {
			if c, ok := common[rel]; !ok || c != string(b) {
				write(filepath.Join(dir, rel), b)
			}
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestRawConfigErrorsShowTheirLine checks that an error in containerd.config
// points at the heredoc line it names, bytes included, so the printed
// snippet is that line and not the first of the profile.
func TestRawConfigErrorsShowTheirLine(t *testing.T) {
	for file, want := range map[string]string{
		"testdata/invalid/raw_config_syntax.hcl":   "= 1",
		"testdata/invalid/raw_config_owned_v4.hcl": "SystemdCgroup = false",
		"testdata/invalid/cri_disabled.hcl":        `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
	} {
		loaded, diags := load(t, file, Options{})
		if !diags.HasErrors() {
			t.Fatalf("%s: no error", file)
		}
		src := loaded.Files[file].Bytes
		d := diags[0]
		if d.Subject == nil {
			t.Fatalf("%s: %s has no subject", file, d.Summary)
		}
		got := string(src[d.Subject.Start.Byte:d.Subject.End.Byte])
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q points at %q, want the text starting %q", file, d.Summary, got, want)
		}
		var b strings.Builder
		hcl.NewDiagnosticTextWriter(&b, loaded.Files, 100, false).WriteDiagnostic(d)
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s: the printed snippet lacks %q:\n%s", file, want, b.String())
		}
	}
}

// buildText loads a profile written out in the test and builds its graph.
func buildText(t *testing.T, text string) *graph.Graph {
	t.Helper()
	loaded, diags := load(t, write(t, t.TempDir(), "p.hcl", text), Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	g, err := Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestCNIReleaseWithoutPluginList loads a profile pinning CNI 1.1.1, whose
// release lacks plugins later ones have: without a plugins list it installs
// every executable the release holds and verifies loopback.
func TestCNIReleaseWithoutPluginList(t *testing.T) {
	// Any well-formed sha256 does: nothing is downloaded.
	g := buildText(t, `
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
cni {
  version = "1.1.1"
  sha256  = "b275772da4026d2161bf8a8b41ed4786754c8a93ebfb6564006d5da7f23831e5"
}
`)
	a := g.Step("artifact:cni").Action.(*steps.Artifact)
	if len(a.Files) != 1 || a.Files[0].From != "*" || a.Files[0].To != "/opt/cni/bin/" {
		t.Errorf("cni installs %+v, want every executable of the release into /opt/cni/bin/", a.Files)
	}
	if v := g.Step(steps.VerifyID).Action.(*steps.Verify); !slices.Equal(v.CNIPlugins, []string{"loopback"}) {
		t.Errorf("verify checks plugins %v, want loopback", v.CNIPlugins)
	}
}

// TestKubeletWithoutVersion: a kubelet nodeup does not install is the
// packaged one: no kubelet.service of nodeup's, a drop-in for /usr/bin/kubelet,
// and the package's unit is enabled (failing when no package brought it).
func TestKubeletWithoutVersion(t *testing.T) {
	g := buildText(t, `
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  flags = ["--node-labels=role=worker"]
}
`)
	for _, id := range []string{"file:/etc/systemd/system/kubelet.service", "artifact:kubelet"} {
		if g.Has(id) {
			t.Errorf("graph has %s for a kubelet nobody installs", id)
		}
	}
	u := g.Step(steps.UnitID(paths.KubeletService)).Action.(*steps.Unit)
	if u.Path != "" || u.Start {
		t.Errorf("kubelet unit %+v, want the package's unit, enabled and not started", u)
	}
	dropIn := g.Step("file:/etc/systemd/system/kubelet.service.d/10-nodeup.conf").Action.(*steps.File)
	if !strings.Contains(string(dropIn.Content), "ExecStart=/usr/bin/kubelet ") {
		t.Errorf("drop-in does not run the packaged kubelet:\n%s", dropIn.Content)
	}
}

// TestWindowsRefusedOnHost: a Windows profile renders, but plan and apply
// refuse it at node.os.
func TestWindowsRefusedOnHost(t *testing.T) {
	loaded, diags := load(t, "testdata/cases/windows/profile.hcl", Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	d := CheckTarget(loaded.Profile)
	if !d.HasErrors() || d[0].Subject == nil || d[0].Subject.Start.Line != 2 || !strings.Contains(d[0].Detail, "nodeup render") {
		t.Errorf("CheckTarget(windows) = %v", d)
	}
	linux, diags := load(t, "../profiles/default.hcl", Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	if d := CheckTarget(linux.Profile); len(d) != 0 {
		t.Errorf("CheckTarget(linux) = %v", d)
	}
}

// TestKubeletFieldOfTargetRelease: kubelet.config fields are checked
// against the kubelet of kubelet.version; one that release has (1.33's
// userNamespaces, 1.32's crashLoopBackOff, with kubelet 1.34.11) is
// rendered. testdata/invalid/kubelet_field_newer_release.hcl has the
// refused ones.
func TestKubeletFieldOfTargetRelease(t *testing.T) {
	g := buildText(t, `
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  version = "1.34.11"
  config = {
    userNamespaces   = { idsPerPod = 65536 }
    crashLoopBackOff = { maxContainerRestartPeriod = "2m" }
  }
}
`)
	cfg := string(g.Step("file:" + paths.KubeletConfigDropIn).Action.(*steps.File).Content)
	for _, want := range []string{"idsPerPod: 65536", "maxContainerRestartPeriod: 2m0s"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("kubelet config lacks %q:\n%s", want, cfg)
		}
	}
}

// TestNodeKernelSettingsNone: an empty kernel_modules list and an empty
// sysctl map ask for none, not for the defaults: a node sharing its host's
// kernel changes nothing there.
func TestNodeKernelSettingsNone(t *testing.T) {
	g := buildText(t, `
node {
  kernel_modules = []
  sysctl         = {}
}
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
`)
	for _, id := range []string{steps.SysctlID("net.ipv4.ip_forward"), "module:overlay", "module:br_netfilter"} {
		if g.Has(id) {
			t.Errorf("graph has %s for a node that asks for no kernel settings", id)
		}
	}
}

// TestKubeadmCustomSocket: kubeadm looks for containerd at its default
// socket; another one is a warning that says what to pass kubeadm.
func TestKubeadmCustomSocket(t *testing.T) {
	_, diags := load(t, write(t, t.TempDir(), "p.hcl", `
containerd {
  version = "2.3.4"
  socket  = "/run/cri/containerd.sock"
}
runc { version = "1.4.3" }
kubelet { version = "1.34.11" }
`), Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	if text := diagText(diags); !strings.Contains(text, "pass --cri-socket unix:///run/cri/containerd.sock to kubeadm init and kubeadm join") {
		t.Errorf("no --cri-socket warning:\n%s", text)
	}
}

// TestKubeadmFromPackages: kubeadm and kubectl may come from Kubernetes'
// packages, like runc from the distribution's: a package step, no download.
func TestKubeadmFromPackages(t *testing.T) {
	g := buildText(t, `
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubeadm { source = "package" }
kubectl { version = "1.36.4" }
`)
	if g.Has(steps.ArtifactID("kubeadm")) || !g.Has(steps.PackageID("kubeadm")) {
		t.Errorf("kubeadm from packages: graph has no package step, or a download:\n%v", g.IDs())
	}
	if !g.Has(steps.ArtifactID("kubectl")) {
		t.Errorf("kubectl 1.36.4: no download step:\n%v", g.IDs())
	}
}
