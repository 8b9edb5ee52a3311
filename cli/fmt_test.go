package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
