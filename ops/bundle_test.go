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

// Each architecture's artifact carries its own sum; a string sum is
// refused for two architectures, and two artifacts with one sum are
// refused at the block that repeats it.
func TestBundleArchSums(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	write := func(text string) string {
		p := filepath.Join(t.TempDir(), "p.hcl")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := &Config{Root: "/"}
	perArch := write(`containerd {
  version = "2.3.99"
  sha256  = { amd64 = "` + a + `", arm64 = "` + b + `" }
}
runc { version = "1.4.3" }
`)
	bc, err := c.bundleContents(perArch, []string{"amd64", "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range bc.files {
		if f.Entry.Component == "containerd" {
			got = append(got, f.Entry.Arch+" "+path.Base(f.Entry.Path)+" "+f.SHA256[:1])
		}
	}
	if strings.Join(got, ", ") != "amd64 containerd-2.3.99-linux-amd64.tar.gz a, arm64 containerd-2.3.99-linux-arm64.tar.gz b" {
		t.Errorf("containerd files: %s", strings.Join(got, ", "))
	}

	one := write("containerd {\n  version = \"2.3.99\"\n  sha256  = \"" + a + "\"\n}\nrunc { version = \"1.4.3\" }\n")
	if _, err := c.bundleContents(one, []string{"amd64", "arm64"}); err == nil || !strings.Contains(err.Error(), "1 error(s)") {
		t.Errorf("one sum for two architectures: %v", err)
	}
	if _, err := c.bundleContents(one, []string{"amd64"}); err != nil {
		t.Errorf("one sum for one architecture: %v", err)
	}

	same := write("containerd { version = \"2.3.4\" }\nrunc {\n  version = \"1.4.99\"\n  sha256  = \"" + a + "\"\n}\ncrictl {\n  version = \"1.99.0\"\n  sha256  = \"" + a + "\"\n}\n")
	_, err = c.bundleContents(same, []string{"amd64"})
	if err == nil || !strings.Contains(err.Error(), same+":2: crictl 1.99.0 (amd64) and runc 1.4.99 (amd64)") || !strings.Contains(err.Error(), "have the same sha256 "+a+", but one file cannot be both") {
		t.Errorf("one sum for two artifacts: %v", err)
	}
}

// A bundle carries each credential provider's binary, for each
// architecture, at the mirror path of its url.
func TestBundleCredentialProviders(t *testing.T) {
	a, b := strings.Repeat("c", 64), strings.Repeat("d", 64)
	p := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(p, []byte(`containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  credential_provider "ecr-credential-provider" {
    version                = "1.31.0"
    url                    = "https://artifacts.example/ecr/v1.31.0/linux/{arch}/ecr-credential-provider-linux-{arch}"
    sha256                 = { amd64 = "`+a+`", arm64 = "`+b+`" }
    match_images           = ["*.dkr.ecr.*.amazonaws.com"]
    default_cache_duration = "12h"
  }
}
`), 0o644)
	bc, err := (&Config{Root: "/"}).bundleContents(p, []string{"amd64", "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range bc.files {
		if f.Entry.Component == "credential-provider/ecr-credential-provider" {
			got = append(got, f.Entry.Arch+" "+f.Entry.Version+" "+f.Entry.Path+" "+f.SHA256[:1])
		}
	}
	sort.Strings(got)
	want := "amd64 1.31.0 artifacts.example/ecr/v1.31.0/linux/amd64/ecr-credential-provider-linux-amd64 c, " +
		"arm64 1.31.0 artifacts.example/ecr/v1.31.0/linux/arm64/ecr-credential-provider-linux-arm64 d"
	if strings.Join(got, ", ") != want {
		t.Errorf("carried %q, want %q", strings.Join(got, ", "), want)
	}
}
