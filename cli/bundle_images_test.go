package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/bundle"
	"github.com/nodeup/nodeup/node/archive/archivetest"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/fetch/fetchtest"
	"github.com/nodeup/nodeup/node/images/imagestest"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
)

// bundledImage is an image of imageProfile: its archive and where a
// bundle holds it.
type bundledImage struct {
	ref, path, url string
	archive        []byte
	id             string // the image ID the archive gives it
}

// imageProfile is fakeMirror's profile with two image blocks whose
// archives a fetchtest mirror serves: the pause image (an OCI layout) at
// its mirror path, and busybox (a docker-archive) at the HOST/PATH of its
// url. The mirrors are variables, mirror_url and image_mirror, so the same
// profile can take a bundle as its mirror.
func imageProfile(t *testing.T) (profile string, m *fetchtest.Mirror, imgs []bundledImage) {
	t.Helper()
	_, base := fakeMirror(t)
	m = fetchtest.NewMirror(t)
	files := map[string]imagestest.File{"bin": {Dir: true}, "bin/sleep": {Content: []byte("#!/bin/true\n")}}
	var pause, busybox bytes.Buffer
	pauseID := imagestest.Image{Name: "registry.k8s.io/pause:3.10", Entrypoint: []string{"/bin/sleep"}, Files: files}.OCI(&pause)
	busyboxID := imagestest.Image{Name: "busybox:1.36", Entrypoint: []string{"/bin/sleep"}, Files: files}.Docker(&busybox)
	imgs = []bundledImage{
		{ref: "registry.k8s.io/pause:3.10", path: "images/registry.k8s.io/pause/3.10.tar", archive: pause.Bytes(), id: pauseID},
		{ref: "docker.io/library/busybox:1.36", path: "images.example/busybox-1.36.tar", url: "https://images.example/busybox-1.36.tar", archive: busybox.Bytes(), id: busyboxID},
	}
	pauseSum := m.Put(imgs[0].path, imgs[0].archive)
	busyboxSum := m.Put(imgs[1].url, imgs[1].archive)

	src, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	fileMirror := regexp.MustCompile(`file://[^"]*`).FindString(string(src))
	text := fmt.Sprintf(`variable "mirror_url" { default = %q }
variable "image_mirror" { default = %q }
`, fileMirror, m.URL)
	text += regexp.MustCompile(`urls *= \[".*"\]`).ReplaceAllString(string(src), "urls = [var.mirror_url, var.image_mirror]")
	text += fmt.Sprintf(`
image "registry.k8s.io/pause:3.10" {
  sha256 = %q
}
image "busybox:1.36" {
  sha256 = %q
  url    = %q
}
`, pauseSum, busyboxSum, imgs[1].url)
	profile = filepath.Join(t.TempDir(), "p.hcl")
	if err := os.WriteFile(profile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return profile, m, imgs
}

// tarMembers reads every member of a tar: a file's content, or empty.
func tarMembers(t *testing.T, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if out[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}

// A bundle, a directory or a tar, holds each image archive where a mirror
// serves it, listed in the manifest with its sha256 and size, and a
// profile that takes the bundle as its mirror gets the archives from it.
func TestBundleCarriesImageArchives(t *testing.T) {
	profile, m, imgs := imageProfile(t)
	for _, out := range []string{filepath.Join(t.TempDir(), "bundle"), filepath.Join(t.TempDir(), "bundle.tar")} {
		code, stdout, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir())
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", out, code, errs)
		}
		if !strings.Contains(stdout, "2 artifacts for amd64, 2 image archives, the profile (1 files)") {
			t.Errorf("%s: stdout: %s", out, stdout)
		}
		held := map[string][]byte{}
		if bundle.IsTar(out) {
			held = tarMembers(t, out)
		} else {
			for _, im := range imgs {
				held[im.path], _ = os.ReadFile(filepath.Join(out, im.path))
			}
		}
		for _, im := range imgs {
			if !bytes.Equal(held[im.path], im.archive) {
				t.Errorf("%s: %s holds %d bytes, not the archive of %s", out, im.path, len(held[im.path]), im.ref)
			}
		}

		man, checks, err := bundle.Verify(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			if !c.OK {
				t.Errorf("%s: %+v", out, c)
			}
		}
		entries := map[string]bundle.Entry{}
		for _, e := range man.Files {
			entries[e.Path] = e
		}
		for _, im := range imgs {
			want := bundle.Entry{Component: bundle.ComponentImage, Image: im.ref, URL: im.url, Path: im.path, SHA256: digest.Bytes(im.archive), Size: int64(len(im.archive))}
			if got := entries[im.path]; got != want {
				t.Errorf("%s: manifest entry\n got %+v\nwant %+v", out, got, want)
			}
		}
		code, stdout, errs = run(t, "bundle", "verify", out)
		if code != 0 || !strings.Contains(stdout, "ok    images/registry.k8s.io/pause/3.10.tar\n") || !strings.Contains(stdout, "ok    images.example/busybox-1.36.tar\n") {
			t.Errorf("verify %s: exit %d\n%s%s", out, code, stdout, errs)
		}

		// The profile with the bundle as its only mirror resolves each
		// image from it, and the archive holds the image.
		before := m.Requests()
		mirror := "file://" + out
		loaded, diags := plan.Load(profile, plan.Options{Vars: []string{"mirror_url=" + mirror, "image_mirror=" + mirror}, HostArch: "amd64"})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		g, err := plan.Build(loaded.Profile)
		if err != nil {
			t.Fatal(err)
		}
		f := &fetch.Fetcher{CacheDir: t.TempDir()}
		for _, im := range imgs {
			step, ok := g.Step(steps.ImageID(im.ref)).Action.(*steps.Image)
			if !ok {
				t.Fatalf("no image step for %s", im.ref)
			}
			cached, err := f.Fetch(context.Background(), step.Candidates(), step.SHA256)
			if err != nil {
				t.Fatalf("%s from %s: %v", im.ref, mirror, err)
			}
			if id, err := step.ArchiveID(cached); err != nil || id != im.id {
				t.Errorf("%s from %s: image ID %q, %v; want %s", im.ref, mirror, id, err, im.id)
			}
		}
		if n := m.Requests() - before; n != 0 {
			t.Errorf("%d requests to the image mirror while the bundle %s was the mirror", n, out)
		}
	}

	// --json lists the image archives on their own.
	code, stdout, errs := run(t, "bundle", profile, "-o", filepath.Join(t.TempDir(), "b"), "--cache", t.TempDir(), "--json")
	var doc struct {
		Artifacts []bundle.Entry `json:"artifacts"`
		Images    []bundle.Entry `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil {
		t.Fatalf("--json: exit %d, %v\n%s%s", code, err, stdout, errs)
	}
	if len(doc.Artifacts) != 2 || len(doc.Images) != 2 || doc.Images[0].Path != imgs[1].path || doc.Images[1].Image != imgs[0].ref {
		t.Errorf("--json: artifacts %+v, images %+v", doc.Artifacts, doc.Images)
	}
}

// bundle verify catches an image archive that was replaced or is missing,
// in a directory and in a tar of it.
func TestBundleVerifyCatchesImageArchives(t *testing.T) {
	profile, _, imgs := imageProfile(t)
	pause, busybox := imgs[0], imgs[1]
	dir := filepath.Join(t.TempDir(), "bundle")
	if code, _, errs := run(t, "bundle", profile, "-o", dir, "--cache", t.TempDir()); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	damaged := append([]byte{}, pause.archive...)
	damaged[len(damaged)/2] ^= 1
	os.WriteFile(filepath.Join(dir, pause.path), damaged, 0o644)
	os.Remove(filepath.Join(dir, busybox.path))

	var entries []archivetest.Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		entries = append(entries, archivetest.File(rel, string(b)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "bundle.tar")
	os.WriteFile(file, archivetest.Tar(t, entries...), 0o644)

	for _, out := range []string{dir, file} {
		code, stdout, errs := run(t, "bundle", "verify", out)
		for _, want := range []string{
			"FAIL  " + pause.path + ": " + pause.path + " has sha256 " + digest.Bytes(damaged) + ", the manifest says " + digest.Bytes(pause.archive),
			"FAIL  " + busybox.path + ": " + busybox.path + " is listed in the manifest but missing from " + out + ";",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("verify %s lacks %q:\n%s", out, want, stdout)
			}
		}
		if code != 1 || !strings.Contains(errs, "2 of 6 files do not match manifest.json") {
			t.Errorf("verify %s: exit %d: %s", out, code, errs)
		}
	}
}

// An archive that does not hold the image its block names is refused when
// the bundle is written, not when a node imports it.
func TestBundleRefusesImageArchiveWithoutTheImage(t *testing.T) {
	profile, m, imgs := imageProfile(t)
	var other bytes.Buffer
	imagestest.Image{Name: "registry.k8s.io/pause:3.9", Files: map[string]imagestest.File{"pause": {}}}.OCI(&other)
	sum := m.Put(imgs[0].path, other.Bytes())
	src, _ := os.ReadFile(profile)
	os.WriteFile(profile, []byte(strings.Replace(string(src), digest.Bytes(imgs[0].archive), sum, 1)), 0o644)
	out := filepath.Join(t.TempDir(), "bundle")
	code, _, errs := run(t, "bundle", profile, "-o", out, "--cache", t.TempDir())
	if code != 1 || !strings.Contains(errs, "image registry.k8s.io/pause:3.10: its archive (sha256 "+sum+") holds registry.k8s.io/pause:3.9; name the image block as the archive does, or fix its url") {
		t.Errorf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed bundle was written")
	}
}

// An image archive at a file:// url is a file on the node, which no
// mirror serves: the bundle cannot carry it and says what to do.
func TestBundleRefusesImageAtFileURL(t *testing.T) {
	_, profile := fakeMirror(t)
	src, _ := os.ReadFile(profile)
	os.WriteFile(profile, append(src, `
image "registry.k8s.io/pause:3.10" {
  sha256 = "`+strings.Repeat("ab", 32)+`"
  url    = "file:///srv/images/pause.tar"
}
`...), 0o644)
	code, _, errs := run(t, "bundle", profile, "-o", filepath.Join(t.TempDir(), "b"), "--cache", t.TempDir())
	if code != 1 || !strings.Contains(errs, "image registry.k8s.io/pause:3.10: url file:///srv/images/pause.tar is a file on the node, which no mirror serves") ||
		!strings.Contains(errs, "remove url so that mirrors serve the archive at images/registry.k8s.io/pause/3.10.tar, or give an http(s) URL") {
		t.Errorf("exit %d: %s", code, errs)
	}
}
