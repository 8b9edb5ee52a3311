package images_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/node/images/imagestest"
)

var busybox = imagestest.Image{
	Name:       "registry.example/tools/busybox:1.36",
	Entrypoint: []string{"/bin/sleep"},
	Cmd:        []string{"3600"},
	Files:      map[string]imagestest.File{"bin": {Dir: true}, "bin/sleep": {Content: []byte("#!/bin/true\n")}},
}

// imageID is the ID archive p gives image ref for linux/arch.
func imageID(p, ref, arch string) (string, error) {
	a, err := images.Open(p)
	if err != nil {
		return "", err
	}
	im, err := a.Image(ref, arch)
	if err != nil {
		return "", err
	}
	return im.ID, nil
}

func write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspect(t *testing.T) {
	var oci, docker, gz bytes.Buffer
	ociID := busybox.OCI(&oci)
	dockerImage := busybox
	dockerImage.Name = "busybox:1.36"
	dockerID := dockerImage.Docker(&docker)
	zw := gzip.NewWriter(&gz)
	zw.Write(oci.Bytes())
	zw.Close()

	for _, tc := range []struct {
		name, file, format, ref, id string
	}{
		{"oci", write(t, "oci.tar", oci.Bytes()), "oci", "registry.example/tools/busybox:1.36", ociID},
		{"oci gzip", write(t, "oci.tar.gz", gz.Bytes()), "oci", "registry.example/tools/busybox:1.36", ociID},
		{"docker-archive", write(t, "docker.tar", docker.Bytes()), "docker-archive", "docker.io/library/busybox:1.36", dockerID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := images.Open(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if a.Format != tc.format || !slices.Equal(a.Names(), []string{tc.ref}) {
				t.Errorf("Open = %s naming %v, want %s naming %s", a.Format, a.Names(), tc.format, tc.ref)
			}
			if got, err := imageID(tc.file, tc.ref, "amd64"); err != nil || got != tc.id {
				t.Errorf("image ID %s, %v; want %s", got, err, tc.id)
			}
		})
	}
}

func TestInspectRefusesOtherFiles(t *testing.T) {
	for name, content := range map[string][]byte{
		"not a tar":   []byte("hello, this is not a tar archive at all, but it is long enough to be read as one........................................................................................................................................................................................................................................................................................................................................................................................................................................................................"),
		"empty tar":   make([]byte, 1024),
		"missing dir": nil,
	} {
		p := filepath.Join(t.TempDir(), "missing", "x.tar")
		if content != nil {
			p = write(t, "x.tar", content)
		}
		if _, err := images.Open(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"registry.k8s.io/pause:3.10":     "registry.k8s.io/pause:3.10",
		"busybox":                        "docker.io/library/busybox:latest",
		"busybox:1.36":                   "docker.io/library/busybox:1.36",
		"library/busybox:1.36":           "docker.io/library/busybox:1.36",
		"localhost/test:1":               "localhost/test:1",
		"mirror.internal:5000/app/web:2": "mirror.internal:5000/app/web:2",
		"mirror.internal:5000/app/web":   "mirror.internal:5000/app/web:latest",
	} {
		got, err := images.Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a b", "busybox@sha256:abc", "busybox:", "/busybox", "a//b:1", "x/../y:1",
		"x/%2e%2e/y:1", "x/y:%2e", "x/y:../1", "Busybox:1", "x/y?z:1", "x/y#z:1", "x\\y:1", "x/y:1\x1b[2J",
		"bad_host.example/y:1", "x/-y:1", "x/y:" + strings.Repeat("t", 129), strings.Repeat("a", 256) + ":1"} {
		if got, err := images.Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", bad, got)
		}
	}
	if got := images.MirrorPath("registry.k8s.io/pause:3.10"); got != "images/registry.k8s.io/pause/3.10.tar" {
		t.Errorf("MirrorPath = %q", got)
	}
}

func TestImportReportsCtrOutput(t *testing.T) {
	ctr := write(t, "ctr", []byte("#!/bin/sh\necho \"ctr: failed to import: $*\" >&2\nexit 1\n"))
	os.Chmod(ctr, 0o755)
	err := images.Import(t.Context(), ctr, "/run/containerd/containerd.sock", "/tmp/x.tar")
	if err == nil || !strings.Contains(err.Error(), "--namespace k8s.io images import /tmp/x.tar") {
		t.Errorf("Import error = %v, want ctr's own message with its arguments", err)
	}
}

// A multi-platform archive: index.json names an index whose manifests are
// per platform; the image ID is the config of the node's platform.
func TestInspectMultiPlatform(t *testing.T) {
	blobs := map[string][]byte{}
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return d
	}
	manifest := func(arch string) map[string]any {
		cfg := put([]byte(`{"architecture":"` + arch + `","os":"linux"}`))
		m, _ := json.Marshal(map[string]any{"schemaVersion": 2, "config": map[string]any{"digest": cfg}})
		return map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(m),
			"platform": map[string]string{"os": "linux", "architecture": arch}}
	}
	arm, amd := manifest("arm64"), manifest("amd64")
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{arm, amd}})
	top, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(idx),
		"annotations": map[string]string{"io.containerd.image.name": "registry.k8s.io/pause:3.10"}}}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	add("index.json", top)
	for d, b := range blobs {
		add("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	tw.Close()
	p := write(t, "multi.tar", buf.Bytes())
	for arch, want := range map[string]string{"amd64": `{"architecture":"amd64","os":"linux"}`, "arm64": `{"architecture":"arm64","os":"linux"}`} {
		sum := sha256.Sum256([]byte(want))
		if got, err := imageID(p, "registry.k8s.io/pause:3.10", arch); err != nil || got != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("%s: image ID %s, %v", arch, got, err)
		}
	}
	if _, err := imageID(p, "registry.k8s.io/pause:3.10", "s390x"); err == nil || !strings.Contains(err.Error(), "no linux/s390x image") {
		t.Errorf("no such platform: %v", err)
	}
}
