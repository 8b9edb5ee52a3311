package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const varProfile = `
variable "containerd_version" { default = "2.3.4" }
variable "modules" {
  type    = list(string)
  default = ["overlay"]
}
variable "token" {
  default   = "s3cret-token"
  sensitive = true
}
node { kernel_modules = var.modules }
containerd { version = var.containerd_version }
runc { version = "1.4.3" }
kubelet { flags = ["--hostname-override=${var.token}"] }
`

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "p.hcl", varProfile)
	vf := write(t, dir, "v.hcl", `containerd_version = "2.3.3"`+"\n")

	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"default", Options{}, "2.3.4"},
		{"env", Options{Environ: []string{"NODEUP_VAR_containerd_version=2.3.2"}}, "2.3.2"},
		{"var-file over env", Options{Environ: []string{"NODEUP_VAR_containerd_version=2.3.2"}, VarFiles: []string{vf}}, "2.3.3"},
		{"--var over all", Options{Environ: []string{"NODEUP_VAR_containerd_version=2.3.2"}, VarFiles: []string{vf}, Vars: []string{"containerd_version=2.3.1"}}, "2.3.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loaded, diags := load(t, path, c.opts)
			if diags.HasErrors() {
				t.Fatal(diagText(diags))
			}
			if got := loaded.Profile.Containerd.Version; got != c.want {
				t.Errorf("version = %s, want %s", got, c.want)
			}
			if loaded.Profile.Containerd.SHA256 == "" {
				t.Error("pinned version got no sha256")
			}
		})
	}
}

func TestTypedVariableFromCommandLine(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", varProfile)
	loaded, diags := load(t, path, Options{Vars: []string{`modules=["overlay","br_netfilter","nf_conntrack"]`}})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	if got := strings.Join(loaded.Profile.Node.KernelModules, ","); got != "overlay,br_netfilter,nf_conntrack" {
		t.Errorf("modules = %s", got)
	}
	_, diags = load(t, path, Options{Vars: []string{`modules=[unclosed`}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "--var modules") {
		t.Errorf("bad list value: %v", diags)
	}
}

func TestSensitiveValuesCollected(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", varProfile)
	loaded, diags := load(t, path, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	// The value itself, and the flag computed from it.
	if got := strings.Join(loaded.Profile.Sensitive, " "); got != "s3cret-token --hostname-override=s3cret-token" {
		t.Errorf("sensitive = %q", loaded.Profile.Sensitive)
	}
	if got := loaded.Profile.Kubelet.Flags[0]; got != "--hostname-override=s3cret-token" {
		t.Errorf("flag = %s", got)
	}
}

func TestUndeclaredVariables(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "p.hcl", varProfile)
	_, diags := load(t, path, Options{Vars: []string{"nope=1"}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `no variable "nope"`) {
		t.Errorf("--var nope: %v", diags)
	}
	vf := write(t, dir, "v.hcl", "\n\nnope = 1\n")
	_, diags = load(t, path, Options{VarFiles: []string{vf}})
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Start.Line != 3 || diags[0].Subject.Filename != vf {
		t.Errorf("var file: %v", diags)
	}
	// The environment is shared with other programs: unknown names are ignored.
	_, diags = load(t, path, Options{Environ: []string{"NODEUP_VAR_nope=1"}})
	if diags.HasErrors() {
		t.Errorf("env: %v", diags)
	}
}

func TestFileFunctionIsRelativeToProfile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "extra.toml", "[plugins.'io.containerd.cri.v1.runtime']\n  enable_unprivileged_ports = true\n")
	path := write(t, dir, "p.hcl", `containerd {
  version = "2.3.4"
  config  = file("extra.toml")
}
runc { version = "1.4.3" }
`)
	loaded, diags := load(t, path, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	if !strings.Contains(loaded.Profile.Containerd.RawConfig, "enable_unprivileged_ports") {
		t.Errorf("raw config = %q", loaded.Profile.Containerd.RawConfig)
	}
}

func TestDirectoryMerged(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "10-containerd.hcl", `containerd { version = "2.3.4" }`)
	write(t, dir, "20-runtimes.hcl", `
runc { version = "1.4.3" }
kata { version = "3.32.0" }
runtime "runc" { default = true }
runtime "kata-qemu" { type = "kata" }
`)
	write(t, dir, "README.md", "not a profile")
	loaded, diags := load(t, dir, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	p := loaded.Profile
	if len(p.Files) != 2 || len(p.Runtimes) != 2 || p.Kata == nil || p.Runtimes[1].Hypervisor != "qemu" {
		t.Errorf("merged profile: files %v runtimes %+v", p.Files, p.Runtimes)
	}

	write(t, dir, "30-dup.hcl", `containerd { version = "1.7.34" }`)
	_, diags = load(t, dir, Options{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Duplicate containerd block") {
		t.Errorf("duplicate across files: %v", diags)
	}
}

func TestDefaults(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", "containerd { version = \"2.3.4\" }\nrunc { version = \"1.4.3\" }\n")
	loaded, diags := load(t, path, Options{HostArch: "arm64"})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	p := loaded.Profile
	if p.Node.CgroupDriver != "systemd" || p.Node.Arch != "arm64" || p.Node.OS != "linux" {
		t.Errorf("node defaults: %+v", p.Node)
	}
	if p.Containerd.Socket != paths.ContainerdSocket || p.Containerd.ConfigVersion != 4 || p.Containerd.SandboxImage != "registry.k8s.io/pause:3.10.2" {
		t.Errorf("containerd defaults: %+v", p.Containerd)
	}
	if !strings.Contains(p.Containerd.URL, "linux-arm64") || p.Containerd.SHA256 != "a985fbb7e18fc0362d31a055338f5d7b0e087a3e27f14c70d1c5965399a29f95" {
		t.Errorf("arm64 pin: %s %s", p.Containerd.URL, p.Containerd.SHA256)
	}
	if len(p.Runtimes) != 1 || p.Runtimes[0].Name != "runc" || !p.Runtimes[0].Default {
		t.Errorf("implicit runtime: %+v", p.Runtimes)
	}
	if !p.Mirror.Upstream || p.Verify.Timeout != DefaultVerifyWait || len(p.Node.Sysctl) != 3 {
		t.Errorf("other defaults: %+v %+v", p.Mirror, p.Verify)
	}
}

func TestNativeConfigVersion(t *testing.T) {
	for v, want := range map[string]int{"1.7.30": 2, "2.0.7": 3, "2.2.7": 3, "2.3.0": 4, "2.4.2": 4} {
		if got := nativeConfigVersion(v); got != want {
			t.Errorf("nativeConfigVersion(%s) = %d, want %d", v, got, want)
		}
	}
}
