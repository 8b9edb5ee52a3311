package plan

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const snapshotProfile = `
variable "containerd_version" {}
variable "modules" {
  type    = list(string)
  default = ["overlay"]
}
variable "token" {
  sensitive = true
}
node { kernel_modules = var.modules }
containerd {
  version = var.containerd_version
  config  = file("conf/extra.toml")
}
runc { version = "1.4.3" }
kubelet { flags = ["--hostname-override=${var.token}"] }
`

// A directory's *.auto.vars.hcl files are variables, read in name order
// after NODEUP_VAR_* and before --var-file and --var.
func TestAutoVarsFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "p.hcl", varProfile)
	write(t, dir, "a.auto.vars.hcl", `containerd_version = "2.3.2"`+"\n")
	write(t, dir, "b.auto.vars.hcl", `containerd_version = "2.3.1"`+"\n")
	vf := write(t, t.TempDir(), "v.hcl", `containerd_version = "2.3.0"`+"\n")
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"later file wins", Options{}, "2.3.1"},
		{"over env", Options{Environ: []string{"NODEUP_VAR_containerd_version=2.2.9"}}, "2.3.1"},
		{"--var-file over", Options{VarFiles: []string{vf}}, "2.3.0"},
		{"--var over", Options{Vars: []string{"containerd_version=2.2.7"}}, "2.2.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loaded, diags := load(t, dir, c.opts)
			if diags.HasErrors() {
				t.Fatal(diagText(diags))
			}
			if got := loaded.Profile.Containerd.Version; got != c.want {
				t.Errorf("version = %s, want %s", got, c.want)
			}
			if got := loaded.Profile.Files; len(got) != 1 || filepath.Base(got[0]) != "p.hcl" {
				t.Errorf("profile files %v: the vars files are not part of the profile", got)
			}
		})
	}
	// A variables file that sets an undeclared variable points at itself.
	write(t, dir, "c.auto.vars.hcl", "nope = 1\n")
	_, diags := load(t, dir, Options{})
	if len(diags) != 1 || diags[0].Subject == nil || filepath.Base(diags[0].Subject.Filename) != "c.auto.vars.hcl" || !strings.Contains(diagText(diags), `line 1: Undeclared variable`) {
		t.Errorf("undeclared variable in an auto vars file: %s", diagText(diags))
	}
	only := t.TempDir()
	write(t, only, "x.auto.vars.hcl", "a = 1\n")
	if _, diags := load(t, only, Options{}); !strings.Contains(diagText(diags), "holds no *.hcl profile files") {
		t.Errorf("a directory of vars files only: %s", diagText(diags))
	}
}

// A snapshot written out as a directory loads, with no flags, to the
// profile it was taken of: the file() files and the given values go along.
func TestSnapshotRoundTrip(t *testing.T) {
	src := t.TempDir()
	path := write(t, src, "node.hcl", snapshotProfile)
	os.MkdirAll(filepath.Join(src, "conf"), 0o755)
	write(t, src, "conf/extra.toml", "[plugins.'io.containerd.cri.v1.runtime']\n  enable_unprivileged_ports = true\n")
	vf := write(t, t.TempDir(), "v.hcl", "modules = [\"overlay\", \"br_netfilter\"]\n")
	opts := Options{
		Environ:  []string{"NODEUP_VAR_containerd_version=2.3.4", "NODEUP_VAR_undeclared=x"},
		VarFiles: []string{vf},
		Vars:     []string{"token=it's \"secret\" ${x}"},
	}
	loaded, diags := load(t, path, opts)
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	p := loaded.Profile
	var names []string
	for _, g := range p.Given {
		names = append(names, g.Name)
	}
	if strings.Join(names, ",") != "containerd_version,modules,token" || !p.Given[2].Sensitive {
		t.Errorf("given: %+v", p.Given)
	}
	files, err := Snapshot(p)
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	dst := t.TempDir()
	for _, f := range files {
		rels = append(rels, f.Rel)
		if f.Mode != 0o600 {
			t.Errorf("%s: mode %v", f.Rel, f.Mode)
		}
		os.MkdirAll(filepath.Join(dst, filepath.Dir(f.Rel)), 0o700)
		if err := os.WriteFile(filepath.Join(dst, f.Rel), f.Data, f.Mode); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(rels, " "); got != "conf/extra.toml node.hcl nodeup.auto.vars.hcl" {
		t.Errorf("snapshot files: %s", got)
	}
	if got := SnapshotDirs(files); !reflect.DeepEqual(got, []string{"conf"}) {
		t.Errorf("dirs: %v", got)
	}
	again, diags := load(t, dst, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	q := again.Profile
	if q.Containerd.Version != "2.3.4" || !reflect.DeepEqual(q.Node.KernelModules, p.Node.KernelModules) ||
		!reflect.DeepEqual(q.Kubelet.Flags, p.Kubelet.Flags) || q.Containerd.RawConfig != p.Containerd.RawConfig || q.Containerd.RawConfig == "" ||
		!reflect.DeepEqual(q.Sensitive, p.Sensitive) {
		t.Errorf("the snapshot loads to another profile:\n%+v\n%+v", q, p)
	}
	// Taken again, the snapshot of the snapshot is the same.
	files2, err := Snapshot(q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(files, files2) {
		t.Errorf("snapshot of the snapshot differs:\n%+v\n%+v", files, files2)
	}
}

// What file() read must be at a path relative to the profile, or the
// profile directory on another machine cannot hold it.
func TestSnapshotRefusesFilesItCannotCarry(t *testing.T) {
	outside := t.TempDir()
	write(t, outside, "extra.toml", "")
	cases := []struct {
		file, setup, want string
	}{
		{filepath.Join(outside, "extra.toml"), "", "which the profile cannot carry to another machine: copy it into"},
		{"BASE/extra.toml", "extra.toml", `write file("extra.toml") instead`},
		{"data.hcl", "data.hcl", "would be read as part of the profile"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if c.setup != "" {
			write(t, dir, c.setup, "")
		}
		arg := strings.Replace(c.file, "BASE", dir, 1)
		path := write(t, dir, "p.hcl", `containerd {
  version = "2.3.4"
  config  = file("`+arg+`")
}
runc { version = "1.4.3" }
`)
		loaded, diags := load(t, path, Options{FileDirs: []string{outside}})
		if diags.HasErrors() {
			t.Fatal(diagText(diags))
		}
		if _, err := Snapshot(loaded.Profile); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("file(%q): %v, want %q", arg, err, c.want)
		}
	}
}
