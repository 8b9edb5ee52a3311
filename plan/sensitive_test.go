package plan

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/steps"
)

// diagStrings is every diagnostic's summary and detail.
func diagStrings(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Summary + ": " + d.Detail + "\n")
	}
	return b.String()
}

// A sensitive value reaches no diagnostic, whichever way it came in and
// whatever was wrong with it.
func TestSensitiveValuesStayOutOfDiagnostics(t *testing.T) {
	dir := t.TempDir()
	const secret = "hunter2-secret-VALUE"
	profile := write(t, dir, "p.hcl", `
variable "sum" { sensitive = true }
variable "ports" {
  type      = list(number)
  sensitive = true
  default   = [1]
}
variable "image" { sensitive = true }
containerd {
  version       = "2.3.4"
  sha256        = var.sum
  sandbox_image = "bad image ${var.image}"
}
`)
	varFile := write(t, dir, "v.hcl", "image = \""+secret+"\"\n")
	cases := []struct {
		name string
		opts Options
	}{
		{"invalid sha256 from the environment", Options{Environ: []string{"NODEUP_VAR_sum=" + secret, "NODEUP_VAR_image=x"}}},
		{"unparsable typed value", Options{Environ: []string{"NODEUP_VAR_sum=x", "NODEUP_VAR_image=x", "NODEUP_VAR_ports=[" + secret}}},
		{"wrong type", Options{Environ: []string{"NODEUP_VAR_sum=x", "NODEUP_VAR_image=x"}, Vars: []string{"ports=[\"" + secret + "\"]"}}},
		{"misspelt --var", Options{Environ: []string{"NODEUP_VAR_sum=x", "NODEUP_VAR_image=x"}, Vars: []string{"imgae=" + secret}}},
		{"--var without =", Options{Environ: []string{"NODEUP_VAR_sum=x", "NODEUP_VAR_image=x"}, Vars: []string{secret}}},
		{"value in a var file", Options{Environ: []string{"NODEUP_VAR_sum=x"}, VarFiles: []string{varFile}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loaded, diags := load(t, profile, c.opts)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if text := diagStrings(diags); strings.Contains(text, "hunter2") {
				t.Errorf("a diagnostic shows the secret:\n%s", text)
			}
			if c.name != "misspelt --var" && c.name != "--var without =" && !contains(loaded.Sensitive, secret) && !containsPart(loaded.Sensitive, secret) {
				t.Errorf("Loaded.Sensitive = %q lacks the secret", loaded.Sensitive)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsPart(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// Masked changes exactly the strings computed from sensitive values.
func TestMasked(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", `
variable "token" {
  default   = "s3cret-token"
  sensitive = true
}
variable "one" {
  default   = "1"
  sensitive = true
}
node {
  sysctl = { "net.ipv4.ip_forward" = var.one, "vm.max_map_count" = "262144" }
}
containerd {
  version = "2.3.4"
  config  = <<-EOT
    [plugins.'io.containerd.cri.v1.images'.registry.configs.'r.example'.auth]
      password = "${var.token}"
  EOT
}
kubelet { flags = ["--hostname-override=${var.token}", "--v=1"] }
runc { version = "1.4.3" }
`)
	loaded, diags := load(t, path, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	p := loaded.Profile
	m := Masked(p)
	if m.Kubelet.Flags[0] == p.Kubelet.Flags[0] || strings.Contains(m.Kubelet.Flags[0], "s3cret") || m.Kubelet.Flags[1] != "--v=1" {
		t.Errorf("flags %q -> %q", p.Kubelet.Flags, m.Kubelet.Flags)
	}
	if m.Node.Sysctl["net.ipv4.ip_forward"] == "1" || m.Node.Sysctl["vm.max_map_count"] != "262144" {
		t.Errorf("sysctl %v -> %v", p.Node.Sysctl, m.Node.Sysctl)
	}
	if !strings.Contains(m.Containerd.RawConfig, "password = \"nodeupmasked") || strings.Contains(m.Containerd.RawConfig, "s3cret") {
		t.Errorf("raw config:\n%s", m.Containerd.RawConfig)
	}
	if m.Containerd.Version != p.Containerd.Version || !reflect.DeepEqual(m.Node.KernelModules, p.Node.KernelModules) {
		t.Errorf("Masked changed what holds no secret")
	}
	if p.Kubelet.Flags[0] != "--hostname-override=s3cret-token" {
		t.Errorf("Masked changed its input: %q", p.Kubelet.Flags)
	}
}

// Every rendered file that holds a sensitive value, in whatever form a
// renderer wrote it, is written for its owner only, by apply (the File
// steps) and render alike; the others keep 0644.
func TestRenderedSecretsAreOwnerOnly(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", `
variable "token" {
  default   = "s3cret-token"
  sensitive = true
}
variable "one" {
  default   = "1"
  sensitive = true
}
node {
  sysctl = { "net.ipv4.ip_forward" = var.one }
}
containerd {
  version = "2.3.4"
  config  = <<-EOT
    [plugins.'io.containerd.cri.v1.images'.registry.configs.'r.example'.auth]
      password = "${var.token}"
  EOT
}
kubelet { flags = ["--hostname-override=${var.token}", "--v=1"] }
runc { version = "1.4.3" }
`)
	loaded, diags := load(t, path, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	files, sensitive, err := Render(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	secretFiles := 0
	for _, f := range files {
		holds := strings.Contains(string(f.Content), "s3cret-token") || strings.Contains(string(f.Content), "ip_forward = 1")
		if holds != sensitive[f.Path] {
			t.Errorf("%s: holds a secret %v, listed sensitive %v", f.Path, holds, sensitive[f.Path])
		}
		want := fs.FileMode(0o644)
		if holds {
			want = 0o600
			secretFiles++
		}
		if f.Mode.Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", f.Path, f.Mode.Perm(), want)
		}
		st := g.Step(steps.FileID(f.Path))
		if st == nil || st.Action.(*steps.File).Mode.Perm() != want {
			t.Errorf("%s: apply writes it %v", f.Path, st)
		}
	}
	if secretFiles < 3 {
		t.Errorf("%d files hold the secrets, want config.toml, the kubelet's flags and sysctl", secretFiles)
	}
}
