package images

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Annotations an OCI layout names its images with.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Media types of indexes and manifests, OCI's and Docker's.
const (
	mediaOCIIndex      = "application/vnd.oci.image.index.v1+json"
	mediaOCIManifest   = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerList    = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaDockerSchema2 = "application/vnd.docker.distribution.manifest.v2+json"
)

// layoutVersion is the OCI image layout version ctr imports.
const layoutVersion = "1.0.0"

// MaxDocument bounds each JSON document read from an archive (index.json,
// manifest.json, an index, a manifest, a docker-archive's config): real
// ones are a few KiB, and containerd reads none larger than 20 MiB.
const MaxDocument = 4 << 20

// maxDepth bounds the indexes followed down to a manifest.
const maxDepth = 4

// ErrNotImage is the class of an archive that is not an image archive
// nodeup can read: not a tar, neither layout, a document too large or
// malformed, a blob missing or not what its digest says.
var ErrNotImage = errors.New("not an image archive nodeup can import")

// NotFoundError is an archive that does not name the image asked for.
type NotFoundError struct {
	Archive string
	Ref     string
	Names   []string // the references the archive names, sorted
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("image archive %s does not name %s; it names %s", e.Archive, e.Ref, e.Held())
}

// Held lists what the archive names, on one line, at most ten.
func (e *NotFoundError) Held() string {
	switch {
	case len(e.Names) == 0:
		return "no image by a reference"
	case len(e.Names) > 10:
		return strings.Join(e.Names[:10], ", ") + fmt.Sprintf(" and %d more", len(e.Names)-10)
	}
	return strings.Join(e.Names, ", ")
}

// Archive is an image archive on disk and the images it names.
type Archive struct {
	Path   string
	Format string                   // "oci" or "docker-archive"
	oci    map[string][]descriptor  // normalized reference -> index.json's entries naming it
	docker map[string][]dockerEntry // normalized reference -> manifest.json's entries naming it
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
	raw json.RawMessage // as the archive spells it, rewritten by WriteArchive
}

// document is an index or a manifest.
type document struct {
	MediaType string       `json:"mediaType"`
	Manifests []descriptor `json:"manifests"`
	Config    *descriptor  `json:"config"`
	Layers    []descriptor `json:"layers"`
}

type dockerEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// Names lists the references the archive names, sorted. A name that is
// not a valid image reference is left out: no image block can ask for it.
func (a *Archive) Names() []string {
	var out []string
	for n := range a.oci {
		out = append(out, n)
	}
	for n := range a.docker {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Open reads which images the archive at p names, from its index.json
// (an OCI layout) or manifest.json (a docker-archive), in one pass that
// holds nothing else. A layout is read as OCI when it has an oci-layout
// member (as ctr decides) or no manifest.json.
func Open(p string) (*Archive, error) {
	a := &Archive{Path: p}
	docs := map[string][]byte{"oci-layout": nil, "index.json": nil, "manifest.json": nil}
	err := a.scan(func(name string, h *tar.Header, r io.Reader) error {
		if _, ok := docs[name]; !ok || h.Typeflag != tar.TypeReg {
			return nil
		}
		if docs[name] != nil {
			return a.notImage("member %s appears twice", name)
		}
		b, err := a.readDocument(name, h, r)
		if err != nil {
			return err
		}
		docs[name] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch layout, index, manifest := docs["oci-layout"], docs["index.json"], docs["manifest.json"]; {
	case layout != nil || (index != nil && manifest == nil):
		return a, a.readIndex(layout, index)
	case manifest != nil:
		return a, a.readManifest(manifest)
	}
	return nil, a.notImage("neither an OCI image layout (index.json) nor a docker-archive (manifest.json)")
}

func (a *Archive) readIndex(layout, index []byte) error {
	a.Format, a.oci = "oci", map[string][]descriptor{}
	if layout != nil {
		var l struct {
			Version string `json:"imageLayoutVersion"`
		}
		if err := json.Unmarshal(layout, &l); err != nil {
			return a.notImage("oci-layout: %v", err)
		}
		if l.Version != layoutVersion {
			return a.notImage("oci-layout says image layout version %.20q; ctr imports version %s", l.Version, layoutVersion)
		}
	}
	if index == nil {
		return a.notImage("an OCI image layout without index.json")
	}
	var top struct {
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(index, &top); err != nil {
		return a.notImage("index.json: %v", err)
	}
	for _, raw := range top.Manifests {
		var d descriptor
		if err := json.Unmarshal(raw, &d); err != nil {
			return a.notImage("index.json: %v", err)
		}
		d.raw = raw
		name := d.Annotations[annotationImageName]
		if name == "" {
			// A bare tag ("3.10") names nothing an image block can ask for.
			if ref := d.Annotations[annotationRefName]; strings.ContainsAny(ref, "/:") {
				name = ref
			}
		}
		if norm, err := Normalize(name); err == nil {
			a.oci[norm] = append(a.oci[norm], d)
		}
	}
	return nil
}

func (a *Archive) readManifest(manifest []byte) error {
	a.Format, a.docker = "docker-archive", map[string][]dockerEntry{}
	var entries []dockerEntry
	if err := json.Unmarshal(manifest, &entries); err != nil {
		return a.notImage("manifest.json: %v", err)
	}
	for _, e := range entries {
		for _, tag := range e.RepoTags {
			if norm, err := Normalize(tag); err == nil {
				a.docker[norm] = append(a.docker[norm], e)
			}
		}
	}
	return nil
}

// Image is one image of an archive, followed to a platform: its ID and the
// members an archive of it alone is made of.
type Image struct {
	Ref string // normalized reference
	ID  string // sha256:<hex> of its config, as the CRI reports it
	a   *Archive
	// top is index.json's entry for the image (OCI); members are the blobs
	// (OCI) or files (docker-archive) an import of it reads.
	top     map[string]json.RawMessage
	docker  dockerEntry
	members []string
}

// Image follows the image the archive names ref (normalized) to the
// config of its linux/arch manifest. An archive that does not name ref
// fails with a *NotFoundError.
func (a *Archive) Image(ref, arch string) (*Image, error) {
	switch a.Format {
	case "oci":
		ds := a.oci[ref]
		if len(ds) == 0 {
			return nil, &NotFoundError{Archive: a.Path, Ref: ref, Names: a.Names()}
		}
		for _, d := range ds[1:] {
			if d.Digest != ds[0].Digest {
				return nil, a.notImage("index.json names %s twice, for %.80s and %.80s", ref, ds[0].Digest, d.Digest)
			}
		}
		return a.ociImage(ref, ds[0], arch)
	case "docker-archive":
		es := a.docker[ref]
		if len(es) == 0 {
			return nil, &NotFoundError{Archive: a.Path, Ref: ref, Names: a.Names()}
		}
		for _, e := range es[1:] {
			if e.Config != es[0].Config || !slices.Equal(e.Layers, es[0].Layers) {
				return nil, a.notImage("manifest.json names %s twice, for configs %.80q and %.80q", ref, es[0].Config, e.Config)
			}
		}
		return a.dockerImage(ref, es[0])
	}
	return nil, a.notImage("unknown format %q", a.Format)
}

// ociImage follows d through indexes (choosing linux/arch) to a manifest,
// one pass over the archive for each document on the way.
func (a *Archive) ociImage(ref string, d descriptor, arch string) (*Image, error) {
	im := &Image{Ref: ref, a: a}
	if err := json.Unmarshal(d.raw, &im.top); err != nil {
		return nil, a.notImage("index.json: %v", err)
	}
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return nil, a.notImage("image %s: indexes nested more than %d deep", ref, maxDepth)
		}
		blob, err := a.blob(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		im.members = append(im.members, blobMember(d.Digest))
		var doc document
		if err := json.Unmarshal(blob, &doc); err != nil {
			return nil, a.notImage("image %s: blob %s: %v", ref, d.Digest, err)
		}
		mt := d.MediaType
		if mt == "" {
			mt = doc.MediaType
		}
		if depth == 0 {
			// ctr follows the entry by its media type and size: say them
			// where the archive leaves them out.
			im.top["size"], _ = json.Marshal(len(blob))
		}
		switch {
		case mt == mediaOCIIndex || mt == mediaDockerList || (doc.Config == nil && len(doc.Manifests) > 0):
			if depth == 0 && d.MediaType == "" {
				im.top["mediaType"], _ = json.Marshal(cmpOr(doc.MediaType, mediaOCIIndex))
			}
			next := slices.IndexFunc(doc.Manifests, func(m descriptor) bool {
				return m.Platform == nil || (m.Platform.OS == "linux" && m.Platform.Architecture == arch)
			})
			if next < 0 {
				return nil, a.notImage("image %s: no linux/%s image in index %s", ref, arch, d.Digest)
			}
			d = doc.Manifests[next]
		case doc.Config != nil:
			if depth == 0 && d.MediaType == "" {
				im.top["mediaType"], _ = json.Marshal(cmpOr(doc.MediaType, mediaOCIManifest))
			}
			if !digestPattern.MatchString(doc.Config.Digest) {
				return nil, a.notImage("image %s: manifest %s: config digest %.80q is not sha256:<hex>", ref, d.Digest, doc.Config.Digest)
			}
			im.ID = doc.Config.Digest
			im.members = append(im.members, blobMember(doc.Config.Digest))
			for _, l := range doc.Layers {
				if !digestPattern.MatchString(l.Digest) {
					return nil, a.notImage("image %s: manifest %s: layer digest %.80q is not sha256:<hex>", ref, d.Digest, l.Digest)
				}
				im.members = append(im.members, blobMember(l.Digest))
			}
			return im, nil
		default:
			return nil, a.notImage("image %s: blob %s is neither an index nor a manifest", ref, d.Digest)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func blobMember(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

// blob reads the document with this digest, checking that its content is
// what the digest says: ctr finds it by its content, not its name.
func (a *Archive) blob(digest string) ([]byte, error) {
	if !digestPattern.MatchString(digest) {
		return nil, a.notImage("digest %.80q is not sha256:<hex>", digest)
	}
	want := blobMember(digest)
	var blob []byte
	err := a.scan(func(name string, h *tar.Header, r io.Reader) error {
		if name != want || h.Typeflag != tar.TypeReg || blob != nil {
			return nil
		}
		b, err := a.readDocument(name, h, r)
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(b); "sha256:"+hex.EncodeToString(sum[:]) != digest {
			return a.notImage("member %s does not hold the blob its name says: ctr would not find it", name)
		}
		blob = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if blob == nil {
		return nil, a.notImage("blob %s is missing", digest)
	}
	return blob, nil
}

// dockerImage resolves a manifest.json entry's config and layers through
// the symlinks docker save writes for shared layers, and hashes the config.
// The first member of a name counts, as WriteArchive copies it.
func (a *Archive) dockerImage(ref string, e dockerEntry) (*Image, error) {
	im := &Image{Ref: ref, a: a}
	config := path.Clean(e.Config)
	want := map[string]bool{config: true}
	for _, l := range e.Layers {
		want[path.Clean(l)] = true
	}
	links, regular := map[string]string{}, map[string]bool{}
	var configSum string
	hashConfig := func(name string, h *tar.Header, r io.Reader) error {
		b, err := a.readDocument(name, h, r)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		configSum = hex.EncodeToString(sum[:])
		return nil
	}
	// One pass finds the members and their links, a second the links'
	// targets (a target may come before its link).
	err := a.scan(func(name string, h *tar.Header, r io.Reader) error {
		if _, seen := links[name]; !want[name] || seen || regular[name] {
			return nil
		}
		if h.Typeflag == tar.TypeSymlink {
			links[name] = path.Join(path.Dir(name), h.Linkname)
			return nil
		}
		regular[name] = true
		if name == config {
			return hashConfig(name, h, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(links) > 0 {
		targets := map[string]bool{}
		for _, t := range links {
			targets[t] = true
		}
		err := a.scan(func(name string, h *tar.Header, r io.Reader) error {
			if _, isLink := links[name]; !targets[name] || isLink || regular[name] || h.Typeflag != tar.TypeReg {
				return nil
			}
			regular[name] = true
			if name == links[config] {
				return hashConfig(name, h, r)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := a.dockerMembers(im, e, links, regular); err != nil {
		return nil, err
	}
	if configSum == "" {
		return nil, a.notImage("image %s: config %.80q is not a file of its own", ref, e.Config)
	}
	im.ID = "sha256:" + configSum
	im.docker.RepoTags = []string{ref}
	im.members = append([]string{im.docker.Config}, im.docker.Layers...)
	return im, nil
}

// dockerMembers sets the image's config and layers to the regular members
// manifest.json entry e names, through one link each; a name that leaves
// the archive or that it does not hold is refused.
func (a *Archive) dockerMembers(im *Image, e dockerEntry, links map[string]string, regular map[string]bool) error {
	resolved := func(m string) (string, error) {
		name := resolve(links, path.Clean(m))
		switch {
		case name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name):
			return "", a.notImage("image %s: member %.80q leads out of the archive", im.Ref, m)
		case !regular[name]:
			return "", a.notImage("image %s: manifest.json names member %.80q, which the archive does not hold", im.Ref, m)
		}
		return name, nil
	}
	var err error
	if im.docker.Config, err = resolved(e.Config); err != nil {
		return err
	}
	for _, l := range e.Layers {
		name, err := resolved(l)
		if err != nil {
			return err
		}
		im.docker.Layers = append(im.docker.Layers, name)
	}
	return nil
}

// resolve follows one symlink, as ctr does.
func resolve(links map[string]string, name string) string {
	if target, ok := links[name]; ok {
		return target
	}
	return name
}

// WriteArchive writes, to w, a tar archive of the image alone, named by
// its reference alone: an OCI layout whose index.json has the image's entry
// with only the io.containerd.image.name annotation, or a docker-archive
// whose manifest.json has the image's entry with only its reference, and
// the blobs (files) an import of it reads for the platform chosen. It
// reads the archive once, copying those members as a stream.
func (im *Image) WriteArchive(w io.Writer) error {
	a := im.a
	tw := tar.NewWriter(w)
	want, written := map[string]bool{}, map[string]bool{}
	for _, m := range im.members {
		want[m] = true
	}
	err := a.scan(func(name string, h *tar.Header, r io.Reader) error {
		if !want[name] || written[name] || h.Typeflag != tar.TypeReg {
			return nil
		}
		written[name] = true
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: h.Size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	})
	if err != nil {
		return err
	}
	for _, m := range im.members {
		if !written[m] {
			return a.notImage("image %s: member %s is missing", im.Ref, m)
		}
	}
	switch a.Format {
	case "oci":
		top := maps.Clone(im.top)
		top["annotations"], _ = json.Marshal(map[string]string{annotationImageName: im.Ref})
		index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaOCIIndex, "manifests": []any{top}})
		if err != nil {
			return err
		}
		if err := put(tw, "oci-layout", []byte(`{"imageLayoutVersion":"`+layoutVersion+`"}`)); err != nil {
			return err
		}
		if err := put(tw, "index.json", index); err != nil {
			return err
		}
	default:
		manifest, err := json.Marshal([]dockerEntry{im.docker})
		if err != nil {
			return err
		}
		if err := put(tw, "manifest.json", manifest); err != nil {
			return err
		}
	}
	return tw.Close()
}

func put(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// scan reads the archive's members in one pass, calling fn for each
// regular file and symlink with its cleaned name; what fn does not read is
// skipped (by seeking, in an uncompressed archive).
func (a *Archive) scan(fn func(name string, h *tar.Header, r io.Reader) error) error {
	f, err := os.Open(a.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	var magic [2]byte
	if n, _ := f.ReadAt(magic[:], 0); n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return a.notImage("gzip: %v", err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return a.notImage("not a tar archive: %v", err)
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeSymlink {
			continue
		}
		if err := fn(path.Clean(h.Name), h, tr); err != nil {
			return err
		}
	}
}

// readDocument reads a JSON member, refusing one larger than MaxDocument.
func (a *Archive) readDocument(name string, h *tar.Header, r io.Reader) ([]byte, error) {
	if h.Size > MaxDocument {
		return nil, a.notImage("member %.100s is %d bytes, more than the %d an image index, manifest or config may have", name, h.Size, MaxDocument)
	}
	b := make([]byte, h.Size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, a.notImage("member %.100s: %v", name, err)
	}
	return b, nil
}

func (a *Archive) notImage(format string, args ...any) error {
	return fmt.Errorf("image archive %s: %s: %w", a.Path, fmt.Sprintf(format, args...), ErrNotImage)
}
