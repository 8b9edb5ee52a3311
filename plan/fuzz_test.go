package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// wholeProfileErrors are the diagnostics that may come without a source
// position: they are about the profile as a whole, not a place in it.
var wholeProfileErrors = map[string]bool{
	"Missing containerd block": true,
}

// FuzzLoad feeds arbitrary bytes to the loader as a profile file. Whatever
// the input, Load must not panic; every error must point at a line of the
// file (or be a whole-profile error); a profile that loads must build into
// a graph, or fail with an error, without panicking.
//
//	go test ./plan -run '^$' -fuzz FuzzLoad -fuzztime 60s
//
// Crashers go to testdata/fuzz/FuzzLoad and run with every go test.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"../profiles/*.hcl", "testdata/invalid/*.hcl", "testdata/cases/*/profile.hcl"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	// One directory per fuzzing process: its inputs run one at a time, and a
	// fresh directory per input would cost more than the load itself.
	dir := f.TempDir()
	path := filepath.Join(dir, "profile.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		loaded, diags := Load(path, Options{HostArch: "amd64"})
		if loaded == nil {
			t.Fatal("Load returned no result")
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Subject == nil {
				if !wholeProfileErrors[d.Summary] {
					t.Errorf("error %q (%s) has no source position", d.Summary, d.Detail)
				}
				continue
			}
			// A file() call may name another file; anything else is this one.
			if d.Subject.Filename != path && !strings.HasPrefix(d.Subject.Filename, dir) {
				t.Errorf("error %q names file %q, want %q", d.Summary, d.Subject.Filename, path)
			}
			if d.Subject.Start.Line < 1 {
				t.Errorf("error %q at %s: line %d < 1", d.Summary, d.Subject.Filename, d.Subject.Start.Line)
			}
		}
		if diags.HasErrors() {
			if loaded.Profile != nil {
				t.Errorf("profile returned despite errors:\n%s", diagText(diags))
			}
			return
		}
		if loaded.Profile == nil {
			t.Fatal("no profile and no error")
		}
		// Build renders every file too; an error is an answer, only a panic is a bug.
		if _, err := Build(loaded.Profile); err != nil {
			t.Logf("build: %v", err)
		}
	})
}
