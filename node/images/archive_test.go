package images_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/node/images/imagestest"
)

var pause = imagestest.Image{Name: "registry.k8s.io/pause:3.10", Entrypoint: []string{"/pause"}, Files: map[string]imagestest.File{"pause": {Content: []byte("p")}}}

// An archive naming two images is written as an archive of the one asked
// for, named by its reference alone: ctr imports every name it is given.
func TestWriteArchiveKeepsOneImage(t *testing.T) {
	box := busybox
	box.Name = "busybox:1.36"
	for format, write := range map[string]func(io.Writer, ...imagestest.Image) []string{"oci": imagestest.OCI, "docker-archive": imagestest.Docker} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			ids := write(&buf, box, pause)
			p := filepath.Join(t.TempDir(), "both.tar")
			os.WriteFile(p, buf.Bytes(), 0o644)
			a, err := images.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"docker.io/library/busybox:1.36", "registry.k8s.io/pause:3.10"}; !slices.Equal(a.Names(), want) {
				t.Fatalf("Names = %v, want %v", a.Names(), want)
			}
			im, err := a.Image("docker.io/library/busybox:1.36", "amd64")
			if err != nil || im.ID != ids[0] {
				t.Fatalf("Image = %+v, %v; want ID %s", im, err, ids[0])
			}
			one := filepath.Join(t.TempDir(), "one.tar")
			f, _ := os.Create(one)
			if err := im.WriteArchive(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			b, err := images.Open(one)
			if err != nil {
				t.Fatal(err)
			}
			if b.Format != format || !slices.Equal(b.Names(), []string{"docker.io/library/busybox:1.36"}) {
				t.Errorf("the one-image archive is %s naming %v", b.Format, b.Names())
			}
			if got, err := imageID(one, "docker.io/library/busybox:1.36", "amd64"); err != nil || got != ids[0] {
				t.Errorf("the one-image archive gives ID %s, %v; want %s", got, err, ids[0])
			}
			// Nothing of pause's is carried: no blob, and no name in any form.
			members := tarMembers(t, one)
			for name, content := range members {
				if bytes.Contains(content, []byte("pause")) || strings.Contains(name, strings.TrimPrefix(ids[1], "sha256:")) {
					t.Errorf("member %s carries the other image", name)
				}
			}
			if format == "oci" {
				var index struct {
					Manifests []struct {
						MediaType   string            `json:"mediaType"`
						Size        int64             `json:"size"`
						Annotations map[string]string `json:"annotations"`
					} `json:"manifests"`
				}
				if err := json.Unmarshal(members["index.json"], &index); err != nil || len(index.Manifests) != 1 ||
					len(index.Manifests[0].Annotations) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != "docker.io/library/busybox:1.36" ||
					index.Manifests[0].Size == 0 || index.Manifests[0].MediaType == "" {
					t.Errorf("index.json = %s, %v", members["index.json"], err)
				}
				if members["oci-layout"] == nil || members["manifest.json"] != nil {
					t.Errorf("an OCI layout has members %v", slices.Sorted(maps.Keys(members)))
				}
			}
		})
	}
}

func tarMembers(t *testing.T, p string) map[string][]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
}

// docker save shares a layer between images by a symlink: the one-image
// archive carries the layer itself under the name its manifest gives.
func TestWriteArchiveFollowsDockerLinks(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, b []byte) {
		h.Mode, h.Size = 0o644, int64(len(b))
		tw.WriteHeader(h)
		tw.Write(b)
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	add(&tar.Header{Name: "b/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../a/layer.tar"}, nil)
	add(&tar.Header{Name: "a/layer.tar", Typeflag: tar.TypeReg}, []byte("layer"))
	add(&tar.Header{Name: "c.json", Typeflag: tar.TypeReg}, cfg)
	add(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg}, []byte(`[{"Config":"c.json","RepoTags":["x/y:1","other/z:2"],"Layers":["b/layer.tar"]}]`))
	tw.Close()
	p := filepath.Join(t.TempDir(), "linked.tar")
	os.WriteFile(p, buf.Bytes(), 0o644)
	a, err := images.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	im, err := a.Image("docker.io/x/y:1", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(cfg); im.ID != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("ID %s", im.ID)
	}
	one := filepath.Join(t.TempDir(), "one.tar")
	f, _ := os.Create(one)
	if err := im.WriteArchive(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	members := tarMembers(t, one)
	if string(members["manifest.json"]) != `[{"Config":"c.json","RepoTags":["docker.io/x/y:1"],"Layers":["a/layer.tar"]}]` || string(members["a/layer.tar"]) != "layer" || len(members) != 3 {
		t.Errorf("one-image archive: %q", members)
	}
}

func TestImageNotNamed(t *testing.T) {
	var buf bytes.Buffer
	imagestest.OCI(&buf, pause)
	p := write(t, "pause.tar", buf.Bytes())
	_, err := imageID(p, "docker.io/library/busybox:1.36", "amd64")
	var nf *images.NotFoundError
	if !errors.As(err, &nf) || err.Error() != "image archive "+p+" does not name docker.io/library/busybox:1.36; it names registry.k8s.io/pause:3.10" {
		t.Errorf("err = %v", err)
	}
}

// Hostile archives: a document larger than any index or manifest, a blob
// that is not what its name says, a name given to two images.
func TestOpenRefusesHostileDocuments(t *testing.T) {
	tarOf := func(members ...[2]string) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, m := range members {
			tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg})
			tw.Write([]byte(m[1]))
		}
		tw.Close()
		return write(t, "hostile.tar", buf.Bytes())
	}
	manifest := `{"schemaVersion":2,"config":{"digest":"sha256:` + strings.Repeat("a", 64) + `"}}`
	sum := sha256.Sum256([]byte(manifest))
	entry := func(name, digest string) string {
		return `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest + `","annotations":{"io.containerd.image.name":"` + name + `"}}`
	}
	good := "sha256:" + hex.EncodeToString(sum[:])
	bad := "sha256:" + strings.Repeat("b", 64)
	for name, tc := range map[string]struct {
		p, want string
	}{
		"large index": {tarOf([2]string{"index.json", `{"manifests":[]}` + strings.Repeat(" ", images.MaxDocument)}),
			"member index.json is 4194320 bytes, more than the 4194304 an image index, manifest or config may have"},
		"large blob": {tarOf([2]string{"index.json", `{"manifests":[` + entry("x/y:1", bad) + `]}`}, [2]string{"blobs/sha256/" + strings.Repeat("b", 64), strings.Repeat(" ", images.MaxDocument+1)}),
			"member blobs/sha256/" + strings.Repeat("b", 64) + " is 4194305 bytes"},
		"blob not its digest": {tarOf([2]string{"index.json", `{"manifests":[` + entry("x/y:1", bad) + `]}`}, [2]string{"blobs/sha256/" + strings.Repeat("b", 64), manifest}),
			"does not hold the blob its name says"},
		"named twice": {tarOf([2]string{"index.json", `{"manifests":[` + entry("x/y:1", good) + "," + entry("docker.io/x/y:1", bad) + `]}`}, [2]string{"blobs/sha256/" + good[7:], manifest}),
			"index.json names docker.io/x/y:1 twice"},
		"index.json twice": {tarOf([2]string{"index.json", `{}`}, [2]string{"index.json", `{}`}), "member index.json appears twice"},
	} {
		_, err := imageID(tc.p, "docker.io/x/y:1", "amd64")
		if err == nil || !strings.Contains(err.Error(), "image archive "+tc.p+": ") || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, images.ErrNotImage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if id, err := imageID(tarOf([2]string{"index.json", `{"manifests":[` + entry("x/y:1", good) + `]}`}, [2]string{"blobs/sha256/" + good[7:], manifest}), "docker.io/x/y:1", "amd64"); err != nil || id != "sha256:"+strings.Repeat("a", 64) {
		t.Errorf("the well-formed case: %s, %v", id, err)
	}
}

// A tar.gz of many large zero-filled members, small on disk, is inspected
// and written out in bounded memory: no member is held whole.
func TestInspectStreams(t *testing.T) {
	const members, size = 64, images.MaxDocument // 256 MiB of zeros
	p := filepath.Join(t.TempDir(), "zeros.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	zeros := make([]byte, 1<<20)
	layerSum := sha256.New()
	for range size / len(zeros) {
		layerSum.Write(zeros)
	}
	layer := "sha256:" + hex.EncodeToString(layerSum.Sum(nil))
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	cfgSum := sha256.Sum256(cfg)
	var layers []string
	for i := range members {
		name := fmt.Sprintf("blobs/sha256/%064x", i)
		if i == 0 {
			name = "blobs/sha256/" + layer[7:]
		}
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg})
		for range size / len(zeros) {
			tw.Write(zeros)
		}
		layers = append(layers, `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+layer+`","size":`+fmt.Sprint(size)+`}`)
	}
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:` +
		hex.EncodeToString(cfgSum[:]) + `"},"layers":[` + strings.Join(layers[:1], ",") + `]}`)
	mSum := sha256.Sum256(manifest)
	for name, b := range map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), "blobs/sha256/" + hex.EncodeToString(cfgSum[:]): cfg, "blobs/sha256/" + hex.EncodeToString(mSum[:]): manifest,
		"index.json": []byte(`{"manifests":[{"digest":"sha256:` + hex.EncodeToString(mSum[:]) + `","annotations":{"io.containerd.image.name":"x/y:1"}}]}`),
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	f.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a, err := images.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	im, err := a.Image("docker.io/x/y:1", "amd64")
	if err != nil || im.ID != "sha256:"+hex.EncodeToString(cfgSum[:]) {
		t.Fatalf("Image = %+v, %v", im, err)
	}
	var out countWriter
	if err := im.WriteArchive(&out); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	t.Logf("allocated %d KiB", (after.TotalAlloc-before.TotalAlloc)>>10)
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 64<<20 {
		t.Errorf("inspecting and writing out the archive allocated %d MiB", allocated>>20)
	}
	// The one-image archive has the image's one layer, not the 63 others.
	if out.n > 2*size {
		t.Errorf("the one-image archive is %d bytes", out.n)
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
