package ops

import (
	"fmt"
	"github.com/nodeup/nodeup/bundle"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A bundle lists each architecture's artifacts from the pin table, and an
// image archive once for all.
func TestBundleArches(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "p.hcl")
	os.WriteFile(profile, []byte(`containerd { version = "2.3.4" }
runc { version = "1.4.3" }
image "registry.k8s.io/pause:3.10" {
  sha256 = "`+strings.Repeat("ab", 32)+`"
  url    = "https://images.example/pause-3.10.tar"
}
`), 0o644)
	c, err := (&Config{Root: "/"}).bundleContents(profile, []string{"arm64", "amd64", "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	arches := c.arches
	var got, images []string
	for _, f := range c.files {
		if f.Entry.Component == bundle.ComponentImage {
			images = append(images, f.Entry.Path+" "+fmt.Sprint(f.arches))
			continue
		}
		got = append(got, f.Entry.Arch+" "+path.Base(f.Entry.URL))
		if len(f.SHA256) != 64 {
			t.Errorf("%s: no pinned sha256", f.Entry.URL)
		}
	}
	// An image archive is one file for every architecture.
	if fmt.Sprint(images) != "[images.example/pause-3.10.tar [amd64 arm64]]" {
		t.Errorf("images %v", images)
	}
	sort.Strings(got)
	if fmt.Sprint(arches) != "[amd64 arm64]" || strings.Join(got, ", ") != "amd64 containerd-2.3.4-linux-amd64.tar.gz, amd64 runc.amd64, arm64 containerd-2.3.4-linux-arm64.tar.gz, arm64 runc.arm64" {
		t.Errorf("arches %v, artifacts %s", arches, strings.Join(got, ", "))
	}
}
