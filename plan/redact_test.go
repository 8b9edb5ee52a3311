package plan

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every form a URL gives a secret is a spelling the redactor knows, for any
// value: a mirror URL that carries one prints it escaped.
func FuzzSpellingsKnowURLForms(f *testing.F) {
	f.Add("my secret pw")
	f.Add("p@ss/w?rd&x=1%")
	f.Fuzz(func(t *testing.T, v string) {
		forms := Spellings(v)
		for _, want := range []string{v, url.PathEscape(v), url.QueryEscape(v), (&url.URL{Path: v}).EscapedPath()} {
			if !slices.Contains(forms, want) {
				t.Fatalf("Spellings(%q) lacks %q", v, want)
			}
		}
	})
}

// A step ID that holds a sensitive value, however short, is shown with the
// value redacted; the steps that depend on one are all found.
func TestSensitiveStepIDs(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "p.hcl", `
variable "mod" {
  sensitive = true
  default   = "Kq7z"
}
node { kernel_modules = ["overlay", var.mod] }
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
`)
	loaded, diags := load(t, p, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	g, err := Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	depends, shown := SensitiveSteps(loaded.Profile, g)
	var raw string
	for _, id := range g.IDs() {
		if strings.Contains(id, "Kq7z") {
			raw = id
		}
	}
	if raw == "" {
		t.Fatalf("no step holds the module: %v", g.IDs())
	}
	if !depends[raw] || shown[raw] == "" || strings.Contains(shown[raw], "Kq7z") || !strings.Contains(shown[raw], Redacted) {
		t.Errorf("step %s: depends %v, shown as %q", raw, depends[raw], shown[raw])
	}
	for id, s := range shown {
		if !strings.Contains(id, "Kq7z") || strings.Contains(s, "Kq7z") {
			t.Errorf("shown[%s] = %s", id, s)
		}
	}
}

// file() named by a sensitive value, however short, says what failed
// without the path.
func TestFileNamedBySecret(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "p.hcl", `
variable "f" {
  sensitive = true
  default   = "Kq7z"
}
containerd {
  version = "2.3.4"
  config  = file(var.f)
}
runc { version = "1.4.3" }
`)
	_, diags := load(t, p, Options{})
	text := diagText(diags)
	if !diags.HasErrors() || strings.Contains(text, "Kq7z") || !strings.Contains(text, "cannot read the file a sensitive value names") {
		t.Errorf("got:\n%s", text)
	}
	os.WriteFile(filepath.Join(dir, "Kq7z"), []byte("# nothing\n"), 0o600)
	if _, diags := load(t, p, Options{}); diags.HasErrors() {
		t.Errorf("readable file refused: %s", diagText(diags))
	}
}

// What fmt -diff shows of a profile hides the defaults of sensitive
// variables and every value of a variables file.
func TestHideSensitiveValues(t *testing.T) {
	src := []byte(`variable "pw" {
  sensitive = true
  default = "hunter2"
}
variable "open" {
  default = "visible"
}
variable "odd" {
  sensitive = "yes"
  default = ["hunter3"]
}
`)
	got := string(HideSensitiveValues(src, "p.hcl"))
	if strings.Contains(got, "hunter") || !strings.Contains(got, "visible") || strings.Count(got, Redacted) != 2 {
		t.Errorf("got:\n%s", got)
	}
	vars := string(HideSensitiveValues([]byte("a = \"hunter2\"\nb   = [\"x\"]\n"), "x"+AutoVarsSuffix))
	if strings.Contains(vars, "hunter2") || strings.Contains(vars, `"x"`) || !strings.HasPrefix(vars, "a = ") {
		t.Errorf("vars file: %s", vars)
	}
}

// A snapshot file that holds a sensitive value is marked, so no
// world-readable list carries its sha256.
func TestSnapshotMarksSensitiveFiles(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "p.hcl", `
variable "pw" { sensitive = true }
variable "v" { default = "x" }
containerd {
  version       = "2.3.4"
  sandbox_image = "registry.k8s.io/pause:${var.pw == "" ? "3.10" : "3.10"}"
}
runc { version = "1.4.3" }
`)
	loaded, diags := load(t, p, Options{Vars: []string{"pw=a\"b"}})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	files, err := Snapshot(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if want := f.Rel == GivenVarsFile; f.Sensitive != want {
			t.Errorf("%s: sensitive %v, want %v", f.Rel, f.Sensitive, want)
		}
	}
}
