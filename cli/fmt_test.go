package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/state"
)

const unformattedProfile = `containerd {
version="2.3.4"
  socket =   "/run/containerd/containerd.sock"
}
`

const formattedProfile = `containerd {
  version = "2.3.4"
  socket  = "/run/containerd/containerd.sock"
}
`

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	ugly := filepath.Join(dir, "a.hcl")
	tidy := filepath.Join(dir, "b.hcl")
	os.WriteFile(ugly, []byte(unformattedProfile), 0o640)
	os.WriteFile(tidy, []byte(formattedProfile), 0o644)

	// -check writes nothing, lists what is not formatted, exits 1.
	code, out, errs := run(t, "fmt", "-check", dir)
	if code != 1 || out != ugly+"\n" || !strings.Contains(errs, "fmt -check: 1 file(s) are not formatted; run nodeup fmt on them") {
		t.Errorf("fmt -check: exit %d\n%s%s", code, out, errs)
	}
	if b, _ := os.ReadFile(ugly); string(b) != unformattedProfile {
		t.Errorf("fmt -check wrote the file")
	}
	code, out, _ = run(t, "fmt", "--check", "-diff", ugly)
	if code != 1 || !strings.Contains(out, "    -version=\"2.3.4\"\n") || !strings.Contains(out, "    +  version = \"2.3.4\"\n") {
		t.Errorf("fmt -check -diff: exit %d\n%s", code, out)
	}

	// fmt rewrites in place, keeping the mode, and lists what it changed.
	code, out, errs = run(t, "fmt", dir)
	if code != 0 || out != ugly+"\n" {
		t.Errorf("fmt: exit %d\n%s%s", code, out, errs)
	}
	if b, _ := os.ReadFile(ugly); string(b) != formattedProfile {
		t.Errorf("formatted:\n%s", b)
	}
	if fi, _ := os.Stat(ugly); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("fmt left files behind: %v", entries)
	}
	if code, out, _ := run(t, "fmt", "-check", ugly, tidy); code != 0 || out != "" {
		t.Errorf("fmt -check after fmt: exit %d\n%s", code, out)
	}

	// A file that does not parse is reported where it breaks and left alone.
	broken := filepath.Join(dir, "c.hcl")
	os.WriteFile(broken, []byte("containerd {\n  version = \n"), 0o644)
	code, _, errs = run(t, "fmt", broken)
	if code != 1 || !strings.Contains(errs, broken+":2:") || !strings.Contains(errs, "1 file(s) do not parse") {
		t.Errorf("fmt of a broken file: exit %d\n%s", code, errs)
	}
	if b, _ := os.ReadFile(broken); string(b) != "containerd {\n  version = \n" {
		t.Errorf("fmt changed a broken file")
	}
	if code, _, errs := run(t, "fmt", filepath.Join(dir, "missing.hcl")); code != 1 || !strings.Contains(errs, "missing.hcl") {
		t.Errorf("fmt of a missing file: exit %d\n%s", code, errs)
	}
}

// The profiles nodeup ships are formatted.
func TestShippedProfilesFormatted(t *testing.T) {
	if code, out, errs := run(t, "fmt", "-check", "../profiles"); code != 0 {
		t.Errorf("fmt -check profiles: exit %d\n%s%s", code, out, errs)
	}
}

// Names are data: fmt of a directory named "site[1]" formats its files,
// never those of "site1"; the cloud-init header names a profile path on
// one line, whatever it holds.
func TestNamesAreNotPatternsNorLines(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"site[1]", "site1"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	unformatted := "containerd {\nversion=\"2.3.4\"\n}\n"
	os.WriteFile(filepath.Join(base, "site1", "other.hcl"), []byte(unformatted), 0o644)
	os.WriteFile(filepath.Join(base, "site[1]", "node.hcl"), []byte(unformatted), 0o644)
	if code, _, errs := run(t, "fmt", filepath.Join(base, "site[1]")); code != 0 {
		t.Fatalf("fmt: %d %s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "site1", "other.hcl")); string(b) != unformatted {
		t.Errorf("fmt site[1] rewrote site1/other.hcl:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "site[1]", "node.hcl")); string(b) == unformatted {
		t.Errorf("fmt site[1] left its own file")
	}

	src := cloudProfile(t)
	dir := filepath.Join(base, "p\nruncmd: [reboot]\n#")
	if err := os.Rename(src, dir); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "cloud-init", dir, "--var", "containerd_version=2.3.4", "--var", "token=t0ken-value")
	if code != 0 {
		t.Fatalf("cloud-init: %d %s", code, errs)
	}
	header := strings.SplitN(out, "\n", 3)[1]
	if !strings.HasPrefix(header, "# Written by nodeup cloud-init from ") || !strings.Contains(header, `\nruncmd: [reboot]\n#`) {
		t.Errorf("header %q", header)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if rc, _ := doc["runcmd"].([]any); len(rc) > 0 && rc[0] == "reboot" {
		t.Errorf("the profile path injected runcmd: %v", rc)
	}
}

// The names state.json records (archive members, paths) print escaped in
// state list, state show and reset: an ESC or a newline in a member name
// cannot drive the terminal or forge a line.
func TestStateNamesPrintEscaped(t *testing.T) {
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	st := state.New()
	st.RecordTree("/opt/kata", state.Tree{"bin/a\x1b]0;pwned\x07": {SHA256: "aa"}, "b\nREMOVE /etc/passwd": {SHA256: "bb"}})
	st.RecordDir("/opt/kata/x\x1b[2J")
	st.Record("/etc/x\x1b[31m.conf", "cc")
	if err := st.Save(h); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"state", "list"}, {"state", "show", "/opt/kata"}, {"reset"}} {
		_, out, errs := run(t, append(args, "--root", root)...)
		if strings.ContainsAny(out+errs, "\x1b\x07") || strings.Contains(out, "\nREMOVE") {
			t.Errorf("%v prints raw names:\n%q", args, out)
		}
	}
}
