// Package imagestest writes small container image archives — an OCI image
// layout or a docker-archive, as a tar — for tests and test beds.
package imagestest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// File is one member of an image's single layer.
type File struct {
	Mode     int64 // permission bits; 0 means 0o755
	Content  []byte
	Linkname string // a symlink to Linkname when set
	Dir      bool
}

// Image is an image of one layer.
type Image struct {
	Name       string // reference the archive names it by
	Arch       string // amd64 unless set
	Entrypoint []string
	Cmd        []string
	Files      map[string]File // path in the layer (no leading slash) -> file
}

// Layer returns the image's layer as a gzip-compressed tar, and the sha256
// of the uncompressed tar (the config's diff ID).
func (im Image) Layer() (gz []byte, diffID string) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	names := make([]string, 0, len(im.Files))
	for n := range im.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := im.Files[n]
		mode := f.Mode
		if mode == 0 {
			mode = 0o755
		}
		h := &tar.Header{Name: n, Mode: mode, Size: int64(len(f.Content)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		switch {
		case f.Dir:
			h.Typeflag, h.Size, h.Name = tar.TypeDir, 0, n+"/"
		case f.Linkname != "":
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, f.Linkname
		}
		must(tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write(f.Content)
			must(err)
		}
	}
	must(tw.Close())
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	_, err := zw.Write(raw.Bytes())
	must(err)
	must(zw.Close())
	return out.Bytes(), digest(raw.Bytes())
}

// config is the image's OCI config.
func (im Image) config(diffID string) []byte {
	arch := im.Arch
	if arch == "" {
		arch = "amd64"
	}
	b, err := json.Marshal(map[string]any{
		"architecture": arch,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": im.Entrypoint, "Cmd": im.Cmd, "Env": []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	must(err)
	return b
}

// ManifestMediaType is the media type of the manifest Manifest returns.
const ManifestMediaType = "application/vnd.oci.image.manifest.v1+json"

// Manifest returns the image's OCI manifest and the blobs it references:
// the config, then the layer. A registry serves an image from these.
func (im Image) Manifest() (manifest []byte, blobs [][]byte) {
	layer, diffID := im.Layer()
	cfg := im.config(diffID)
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ManifestMediaType,
		"config":        desc("application/vnd.oci.image.config.v1+json", cfg),
		"layers":        []any{desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)},
	})
	must(err)
	return manifest, [][]byte{cfg, layer}
}

// OCI writes the image as an OCI image layout tar named by the
// io.containerd.image.name annotation (what ctr images import reads), and
// returns its image ID (the config digest).
func (im Image) OCI(w io.Writer) (id string) { return OCI(w, im)[0] }

// Docker writes the image as a docker-archive (docker save) and returns its
// image ID.
func (im Image) Docker(w io.Writer) (id string) { return Docker(w, im)[0] }

// OCI writes one OCI image layout tar holding the images, each named in
// index.json, and returns their image IDs.
func OCI(w io.Writer, ims ...Image) (ids []string) {
	tw := tar.NewWriter(w)
	put(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	var entries []any
	for _, im := range ims {
		manifest, blobs := im.Manifest()
		md := desc(ManifestMediaType, manifest)
		md["annotations"] = map[string]string{"io.containerd.image.name": im.Name, "org.opencontainers.image.ref.name": tagOf(im.Name)}
		entries = append(entries, md)
		for _, b := range [][]byte{blobs[0], manifest, blobs[1]} {
			put(tw, "blobs/sha256/"+digest(b)[len("sha256:"):], b)
		}
		ids = append(ids, digest(blobs[0]))
	}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
	must(err)
	put(tw, "index.json", index)
	must(tw.Close())
	return ids
}

// Docker writes one docker-archive holding the images, and returns their
// image IDs.
func Docker(w io.Writer, ims ...Image) (ids []string) {
	tw := tar.NewWriter(w)
	var entries []map[string]any
	for n, im := range ims {
		layer, diffID := im.Layer()
		cfg := im.config(diffID)
		cfgName := digest(cfg)[len("sha256:"):] + ".json"
		layerName := fmt.Sprintf("layer%d.tar.gz", n)
		entries = append(entries, map[string]any{"Config": cfgName, "RepoTags": []string{im.Name}, "Layers": []string{layerName}})
		put(tw, cfgName, cfg)
		put(tw, layerName, layer)
		ids = append(ids, digest(cfg))
	}
	manifest, err := json.Marshal(entries)
	must(err)
	put(tw, "manifest.json", manifest)
	must(tw.Close())
	return ids
}

func tagOf(name string) string {
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == ':' {
			return name[i+1:]
		}
	}
	return "latest"
}

func desc(mediaType string, b []byte) map[string]any {
	return map[string]any{"mediaType": mediaType, "digest": digest(b), "size": len(b)}
}

func put(tw *tar.Writer, name string, b []byte) {
	must(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}))
	_, err := tw.Write(b)
	must(err)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// must panics: the writers here write to memory or to a file a test owns.
func must(err error) {
	if err != nil {
		panic(err)
	}
}
