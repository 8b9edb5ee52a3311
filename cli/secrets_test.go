package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A secret form: how a sensitive value is given and where it flows. Every
// value holds the marker s3cr3t in each of its lines and words, so a leak
// in any spelling (escaped, quoted, folded over lines, cut in pieces)
// still shows it.
type secretForm struct {
	name    string
	value   string                  // NODEUP_VAR_bootstrap_token, when set
	edit    func(src string) string // how the test profile uses the value
	args    []string                // extra arguments
	varFile string                  // a --var-file's content
	fails   bool                    // the profile does not load
}

var tokenFlag = `  flags   = ["--node-labels=role=worker", "--hostname-override=${var.bootstrap_token}"]`

func replace(old, new string) func(string) string {
	return func(src string) string {
		if !strings.Contains(src, old) {
			panic("the test profile has no " + old)
		}
		return strings.Replace(src, old, new, 1)
	}
}

func replaceRe(re, new string) func(string) string {
	return func(src string) string { return regexp.MustCompile(re).ReplaceAllString(src, new) }
}

var secretForms = []secretForm{
	{name: "unit file escapes", value: secret},
	{name: "YAML folds a long value", value: strings.Repeat("s3cr3t-folded ", 12),
		edit: replace(tokenFlag, "  config  = { providerID = var.bootstrap_token }")},
	{name: "YAML block of several lines", value: "s3cr3t-line-one\ns3cr3t-line-two\n  s3cr3t-line-three",
		edit: replace(tokenFlag, "  config  = { providerID = var.bootstrap_token }")},
	{name: "TOML escapes", value: `s3cr3t"quo\te`,
		edit: replace("containerd {\n", "containerd {\n  sandbox_image = var.bootstrap_token\n")},
	{name: "raw TOML", value: `s3cr3t-password`,
		edit: replace("containerd {\n", "containerd {\n  config = \"[plugins.'io.containerd.cri.v1.images'.registry.configs.'r.example'.auth]\\npassword = '${var.bootstrap_token}'\\n\"\n")},
	{name: "JSON escapes in a list", value: `s3cr3t<&>"`, edit: replace(tokenFlag, `  flags   = ["--hostname-override=${var.bootstrap_token}", "--node-labels=b=x"]`)},

	// The profile does not load: the value must stay out of the diagnostics.
	{name: "invalid sha256 (got …)", value: "s3cr3t-not-a-sum", fails: true,
		edit: replaceRe(`(?s)(containerd \{\n  version = "2.3.4"\n  url = "[^"]*"\n)  sha256 = "[0-9a-f]+"`, "${1}  sha256 = var.bootstrap_token")},
	{name: "function error (with var.x as …)", value: "s3cr3t-arg", fails: true,
		edit: replace(tokenFlag, `  flags   = [substr(var.bootstrap_token, "x", 1)]`)},
	{name: "misspelt --var", args: []string{"--var", "bootstrap_tokn=s3cr3t-misspelt"}, fails: true},
	{name: "bad NODEUP_VAR_ of a typed variable", value: "[s3cr3t-unclosed", fails: true,
		edit: replace("sensitive = true", "sensitive = true\n  type      = list(string)")},
	{name: "raw TOML that does not parse", value: "s3cr3t-toml", fails: true,
		edit: replace("containerd {\n", "containerd {\n  config = \"password = ${var.bootstrap_token} =\"\n")},
	{name: "wrong type in a variable file", varFile: "bootstrap_token = [\"s3cr3t-in-a-file\"]\n", fails: true,
		edit: replace("sensitive = true", "sensitive = true\n  type      = string")},
}

// No command prints a sensitive value, in any form, on either stream.
func TestSecretFormsNeverPrint(t *testing.T) {
	endpoint := "unix://" + serveRuntime(t)
	for _, f := range secretForms {
		t.Run(f.name, func(t *testing.T) {
			profile := testProfile(t)
			if f.edit != nil {
				src, _ := os.ReadFile(profile)
				os.WriteFile(profile, []byte(f.edit(string(src))), 0o644)
			}
			env := []string{}
			if f.value != "" {
				env = append(env, "NODEUP_VAR_bootstrap_token="+f.value)
			}
			extra := f.args
			if f.varFile != "" {
				vf := filepath.Join(t.TempDir(), "vars.hcl")
				os.WriteFile(vf, []byte(f.varFile), 0o644)
				extra = append(extra, "--var-file", vf)
			}
			root, out := t.TempDir(), t.TempDir()
			commands := [][]string{
				{"validate", profile},
				{"validate", profile, "--json"},
				{"validate", profile, "--log-format", "json"},
				{"graph", profile},
				{"graph", profile, "--json"},
				{"graph", profile, "--format", "dot"},
				{"render", profile, "--out", out},
				{"render", profile, "--out", out, "--json"},
				{"plan", profile, "--root", root, "--phase", "bake"},
				{"plan", profile, "--root", root, "--phase", "bake", "--json"},
				{"apply", profile, "--root", root, "--phase", "bake"},
				{"apply", profile, "--root", root, "--phase", "bake", "--json", "--log-format", "json"},
				{"plan", profile, "--root", root, "--phase", "bake", "--verbose"},
				{"verify", profile, "--root", root, "--endpoint", endpoint},
				{"verify", profile, "--root", root, "--endpoint", endpoint, "--json"},
				{"bundle", profile, "-o", filepath.Join(out, "bundle"), "--cache", t.TempDir()},
				{"cloud-init", profile},
			}
			for _, args := range commands {
				// Without the stream guard, which only ever takes text
				// out: values must be kept out where they enter.
				var stdout, stderr strings.Builder
				code := runWith(append(args, extra...), Streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr}, env, system{unguarded: true})
				what := strings.Join(args, " ")
				if f.fails != (code == 1) && args[0] != "verify" {
					t.Errorf("%s: exit %d\n%s%s", what, code, stdout.String(), stderr.String())
				}
				// cloud-init's user data carries what the node needs: only
				// its log is checked.
				if args[0] != "cloud-init" {
					noSecret(t, what+" (stdout)", stdout.String())
				}
				noSecret(t, what+" (stderr)", stderr.String())
			}
		})
	}
}

// A value too short to tell from other text ("1") is kept out where it
// flows and garbles nothing else.
func TestShortSecret(t *testing.T) {
	profile := testProfile(t)
	src, _ := os.ReadFile(profile)
	os.WriteFile(profile, []byte(replace("  arch          = \"amd64\"\n", "  arch          = \"amd64\"\n  sysctl        = { \"net.ipv4.ip_forward\" = var.bootstrap_token }\n")(string(src))), 0o644)
	env := []string{"NODEUP_VAR_bootstrap_token=1"}
	var stdout, stderr strings.Builder
	if code := Run([]string{"graph", profile}, Streams{Out: &stdout, Err: &stderr}, env); code != 0 {
		t.Fatalf("graph: exit %d\n%s", code, stderr.String())
	}
	graph := stdout.String()
	if !strings.Contains(graph, "sysctl:net.ipv4.ip_forward\n  (sensitive)\n") {
		t.Errorf("graph shows the sysctl's value:\n%s", graph)
	}
	if !strings.Contains(graph, "kubelet 1.34.11 sha256:") || strings.Contains(graph, "(sensitive).") {
		t.Errorf("the short value garbled the graph:\n%s", graph)
	}
	stdout.Reset()
	if code := Run([]string{"plan", profile, "--root", t.TempDir(), "--phase", "bake"}, Streams{Out: &stdout, Err: &stderr}, env); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr.String())
	}
	plan := stdout.String()
	if !strings.Contains(plan, "+ file:/etc/sysctl.d/99-nodeup.conf: create new file, ") || !strings.Contains(plan, "    (sensitive content)\n") {
		t.Errorf("plan shows the sysctl.d file:\n%s", plan)
	}
	if !strings.Contains(plan, "version = 4") || !strings.Contains(plan, "install kubelet 1.34.11") || strings.Contains(plan, "(sensitive).") {
		t.Errorf("the short value garbled the plan:\n%s", plan)
	}
}
