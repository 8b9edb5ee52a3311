package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every failure exits 1; 2 belongs to plan --detailed-exitcode.
func TestHostileProfilesExit1(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "deep.hcl")
	os.WriteFile(deep, []byte("x = "+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+"\n"), 0o644)
	huge := filepath.Join(dir, "huge.hcl")
	os.WriteFile(huge, []byte("containerd {\n  version = \"2.3.4\"\n  config_version = 1e99999999\n}\n"), 0o644)
	for _, c := range []struct {
		file, want string
		cmds       []string
	}{
		{deep, deep + ":1:69: Error: Profile nested too deeply", []string{"validate", "plan"}},
		{huge, huge + ":3:20: Error: Number too large", []string{"validate", "plan", "render"}},
	} {
		for _, cmd := range c.cmds {
			args := []string{cmd, c.file}
			if cmd == "plan" {
				args = append(args, "--detailed-exitcode", "--root", t.TempDir())
			}
			if cmd == "render" {
				args = append(args, "--out", t.TempDir())
			}
			code, _, errs := run(t, args...)
			if code != 1 || !strings.Contains(errs, c.want) {
				t.Errorf("%s: exit %d, want 1 and %q:\n%.3000s", strings.Join(args, " "), code, c.want, errs)
			}
		}
	}
}

// panicWriter stands for any bug that panics.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("write on a closed stream") }

func TestPanicIsAnErrorExit1(t *testing.T) {
	var errb bytes.Buffer
	code := Run([]string{"version"}, Streams{In: strings.NewReader(""), Out: panicWriter{}, Err: &errb}, nil)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.HasPrefix(errb.String(), "nodeup: internal error while running version: write on a closed stream; this is a bug in nodeup, please report it with the command line") {
		t.Errorf("stderr: %s", errb.String())
	}
}

func TestAllowFileOutside(t *testing.T) {
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "extra.toml"), []byte("[plugins.'io.containerd.cri.v1.runtime']\n  enable_unprivileged_ports = true\n"), 0o644)
	p := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(p, []byte(`containerd {
  version = "2.3.4"
  config  = file("`+filepath.Join(other, "extra.toml")+`")
}
runc { version = "1.4.3" }
`), 0o644)
	code, _, errs := run(t, "validate", p)
	if code != 1 || !strings.Contains(strings.Join(strings.Fields(errs), " "), "allow its directory with --allow-file-outside "+other) {
		t.Errorf("without the flag: exit %d: %s", code, errs)
	}
	if code, _, errs := run(t, "validate", "--allow-file-outside", other, p); code != 0 {
		t.Errorf("with the flag: exit %d: %s", code, errs)
	}
}
