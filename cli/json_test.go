package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// envelope is what every JSON document of nodeup holds (docs/json.md).
type envelope struct {
	FormatVersion *int                      `json:"format_version"`
	Command       string                    `json:"command"`
	OK            *bool                     `json:"ok"`
	Diagnostics   []diagnostic              `json:"diagnostics"`
	Error         *struct{ Message string } `json:"error"`
}

// parseDocument parses stdout as exactly one JSON object with the envelope.
func parseDocument(t *testing.T, what, out string) (envelope, map[string]any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("%s: stdout is not a JSON object: %v\n%s", what, err, out)
	}
	if dec.More() {
		t.Errorf("%s: more than one JSON document on stdout:\n%s", what, out)
	}
	var env envelope
	_ = json.Unmarshal([]byte(out), &env)
	if env.FormatVersion == nil || *env.FormatVersion != FormatVersion || env.OK == nil || env.Diagnostics == nil {
		t.Errorf("%s: no format_version 1, ok or diagnostics:\n%s", what, out)
	}
	return env, fields
}

// Every command prints one JSON document under --json, failures included,
// and its ok agrees with the exit code.
func TestJSONOnEveryCommand(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	out := t.TempDir()
	cache := t.TempDir()
	unformatted := filepath.Join(t.TempDir(), "u.hcl")
	os.WriteFile(unformatted, []byte("containerd {\nversion=\"2.3.4\"\n}\n"), 0o644)
	cases := []struct {
		args    []string
		command string
		code    int
		fields  []string // beside the envelope
	}{
		{[]string{"validate", profile}, "validate", 0, []string{"valid", "error_count", "warning_count", "steps"}},
		{[]string{"validate", "../plan/testdata/invalid/many_errors.hcl"}, "validate", 1, []string{"valid", "error_count"}},
		{[]string{"render", profile, "--out", out}, "render", 0, []string{"files", "out"}},
		{[]string{"graph", profile}, "graph", 0, []string{"steps"}},
		{[]string{"graph", profile, "--format", "svg"}, "graph", 1, []string{"error"}},
		{[]string{"plan", profile, "--root", root, "--phase", "bake"}, "plan", 0, []string{"steps", "summary", "changes"}},
		{[]string{"plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode"}, "plan", 2, []string{"steps", "summary"}},
		{[]string{"apply", profile, "--root", root, "--phase", "bake"}, "apply", 0, []string{"steps", "summary", "seconds"}},
		{[]string{"apply", profile, "--root", root}, "apply", 1, []string{"error"}},
		{[]string{"state", "list", "--root", root}, "state list", 0, []string{"state_file", "artifacts", "units", "last_apply"}},
		{[]string{"state", "show", "containerd.service", "--root", root}, "state show", 0, []string{"kind", "unit", "files"}},
		{[]string{"verify", "--endpoint", "unix://" + filepath.Join(root, "none.sock"), "--timeout", "100ms"}, "verify", 1, []string{"error"}},
		{[]string{"facts", "--root", root}, "facts", 0, []string{"arch", "distro", "cgroup"}},
		{[]string{"bundle", profile, "-o", filepath.Join(out, "b"), "--cache", cache}, "bundle", 0, []string{"artifacts", "output"}},
		{[]string{"cloud-init", profile}, "cloud-init", 0, []string{"user_data"}},
		{[]string{"version"}, "version", 0, []string{"version", "go", "platform"}},
		{[]string{"fmt", "-check", unformatted}, "fmt", 1, []string{"files", "check"}},
		{[]string{"reset", "--root", root, "--yes"}, "reset", 0, []string{"steps", "done"}},
		{[]string{"plan"}, "plan", 1, []string{"error"}},
		{[]string{"plan", profile, "--bogus"}, "plan", 1, []string{"error"}},
		{[]string{"nosuch"}, "nodeup", 1, []string{"error"}},
	}
	for _, c := range cases {
		what := strings.Join(c.args, " ")
		code, stdout, stderr := nodeup(t, append(c.args, "--json")...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", what, code, c.code, stdout, stderr)
			continue
		}
		env, fields := parseDocument(t, what, stdout)
		if env.Command != c.command || *env.OK != (code != 1) {
			t.Errorf("%s: command %q ok %v", what, env.Command, *env.OK)
		}
		for _, f := range c.fields {
			if _, ok := fields[f]; !ok {
				t.Errorf("%s: no %q in\n%s", what, f, stdout)
			}
		}
		if k := camelKey(fields); k != "" {
			t.Errorf("%s: key %q is not snake_case:\n%s", what, k, stdout)
		}
		if code == 1 && (env.Error == nil || env.Error.Message == "") && c.command != "validate" && c.command != "fmt" {
			t.Errorf("%s: failed without an error message:\n%s", what, stdout)
		}
	}
}

var snakeCase = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// camelKey finds a key of the document, at any depth, that is not
// snake_case.
func camelKey(v any) string {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if !snakeCase.MatchString(k) {
				return k
			}
			if bad := camelKey(e); bad != "" {
				return bad
			}
		}
	case []any:
		for _, e := range v {
			if bad := camelKey(e); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// validate --json of a broken profile: the diagnostics as terraform
// validate -json gives them, golden.
func TestValidateJSONGolden(t *testing.T) {
	code, out, _ := run(t, "validate", "../plan/testdata/invalid/many_errors.hcl", "--json")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	env, _ := parseDocument(t, "validate --json", out)
	for _, d := range env.Diagnostics {
		if d.File == "" || d.Line == 0 || d.Column == 0 || d.Severity != "error" || d.Summary == "" || d.Detail == "" {
			t.Errorf("incomplete diagnostic %+v", d)
		}
	}
	golden(t, "json/validate-many-errors.golden", out)
}

// apply --json reports every step with its action, result and timing; a
// step that failed says what it was doing, and those it held back name it.
func TestApplyJSONFailedStep(t *testing.T) {
	profile := testProfile(t)
	src, _ := os.ReadFile(profile)
	// The kubelet's download does not match the profile's sha256.
	bad := regexp.MustCompile(`(releases.example/kubelet"\n  sha256 = ")[0-9a-f]{64}`).ReplaceAllString(string(src), "${1}"+strings.Repeat("0", 64))
	if bad == string(src) {
		t.Fatal("no kubelet sha256 to break")
	}
	os.WriteFile(profile, []byte(bad), 0o644)
	code, out, errs := nodeup(t, "apply", profile, "--root", t.TempDir(), "--phase", "bake", "--json")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var doc struct {
		Steps []stepView `json:"steps"`
	}
	json.Unmarshal([]byte(out), &doc)
	byID := map[string]stepView{}
	for _, s := range doc.Steps {
		byID[s.ID] = s
		if s.Action == "" || s.Result == "" {
			t.Errorf("step without action or result: %+v", s)
		}
	}
	if k := byID["artifact:kubelet"]; k.Action != "create" || k.Result != "failed" || !strings.Contains(k.Error, "sha256 mismatch") {
		t.Errorf("kubelet: %+v", k)
	}
	if u := byID["unit:kubelet.service"]; u.Result != "not-run" || u.Cause != "artifact:kubelet" {
		t.Errorf("kubelet unit: %+v", u)
	}
	if c := byID["artifact:containerd"]; c.Action != "create" || c.Result != "ok" || c.Seconds <= 0 {
		t.Errorf("containerd: %+v", c)
	}
	// Live, each finished step on stderr as a log line.
	if !strings.Contains(errs, "artifact:kubelet failed") || !strings.Contains(errs, "+ artifact:containerd: create (") {
		t.Errorf("stderr:\n%s", errs)
	}
}
