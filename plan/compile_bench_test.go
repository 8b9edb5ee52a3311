package plan

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCompile is what every nodeup command pays before it looks at the
// node: the largest example profile (by size) loaded, validated, rendered
// and built into its step graph. make bench reports it.
func BenchmarkCompile(b *testing.B) {
	files, _ := filepath.Glob("../profiles/*.hcl")
	largest, size := "", int64(-1)
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > size {
			largest, size = f, fi.Size()
		}
	}
	if largest == "" {
		b.Fatal("no profiles in ../profiles")
	}
	opts := Options{HostArch: "amd64"}
	if filepath.Base(largest) == "demo.hcl" {
		opts.VarFiles = []string{"testdata/demo-vars.hcl"}
	}
	b.Logf("profile %s (%d bytes)", largest, size)
	for b.Loop() {
		loaded, diags := Load(largest, opts)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if _, err := Build(loaded.Profile); err != nil {
			b.Fatal(err)
		}
	}
}
