// Package images reads container image archives — OCI image layouts and
// docker-archives (`docker save`), as tar files — and imports them into
// containerd. Inspect says which images an archive holds and the image ID
// (config digest) each has, the ID the CRI reports once it is imported, so
// a node can be checked against an archive without importing it.
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
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Annotations an OCI layout names its images with.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Media types of indexes, OCI and Docker's: descriptors to follow down to
// a platform's manifest.
const (
	mediaOCIIndex   = "application/vnd.oci.image.index.v1+json"
	mediaDockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxMetadata bounds the JSON documents read from an archive.
const maxMetadata = 4 << 20

// Archive is what an image archive holds.
type Archive struct {
	Format string // "oci" or "docker-archive"
	// Images maps each normalized reference the archive names to its
	// image ID, "sha256:<hex>" of its config.
	Images map[string]string
}

// Names lists the references an archive holds, sorted.
func (a *Archive) Names() []string {
	var out []string
	for n := range a.Images {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Inspect reads the archive at p (a tar, optionally gzip-compressed) for
// platform arch (amd64, arm64) on linux.
func Inspect(p, arch string) (*Archive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompressed(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	a, err := inspect(tar.NewReader(r), arch)
	if err != nil {
		return nil, fmt.Errorf("image archive %s: %w", p, err)
	}
	return a, nil
}

func decompressed(f io.Reader) (io.Reader, error) {
	br := bufio.NewReader(f)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// inspect keeps the archive's small JSON members (index.json,
// manifest.json, blobs up to maxMetadata) and hashes the docker-archive
// configs, in one pass over the tar.
func inspect(tr *tar.Reader, arch string) (*Archive, error) {
	members := map[string][]byte{}
	sums := map[string]string{} // member -> sha256 hex
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		hash := sha256.New()
		var keep []byte
		if h.Size <= maxMetadata {
			b, err := io.ReadAll(io.TeeReader(tr, hash))
			if err != nil {
				return nil, err
			}
			keep = b
		} else if _, err := io.Copy(hash, tr); err != nil {
			return nil, err
		}
		sums[name] = hex.EncodeToString(hash.Sum(nil))
		if keep != nil {
			members[name] = keep
		}
	}
	switch {
	case members["index.json"] != nil:
		return ociImages(members, arch)
	case members["manifest.json"] != nil:
		return dockerImages(members, sums)
	}
	return nil, errors.New("neither an OCI image layout (index.json) nor a docker-archive (manifest.json)")
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type index struct {
	MediaType string       `json:"mediaType"`
	Manifests []descriptor `json:"manifests"`
	Config    *descriptor  `json:"config"` // set when the document is a manifest
}

func ociImages(members map[string][]byte, arch string) (*Archive, error) {
	var top index
	if err := json.Unmarshal(members["index.json"], &top); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	a := &Archive{Format: "oci", Images: map[string]string{}}
	for _, d := range top.Manifests {
		name := d.Annotations[annotationImageName]
		if name == "" {
			// A bare tag ("3.10") names nothing containerd can import by.
			if ref := d.Annotations[annotationRefName]; strings.ContainsAny(ref, "/:") {
				name = ref
			}
		}
		if name == "" {
			continue
		}
		norm, err := Normalize(name)
		if err != nil {
			return nil, fmt.Errorf("index.json names %q: %w", name, err)
		}
		id, err := configOf(members, d, arch, 0)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		a.Images[norm] = id
	}
	return a, nil
}

// configOf follows a descriptor through indexes (choosing linux/arch) to a
// manifest, and returns its config digest.
func configOf(members map[string][]byte, d descriptor, arch string, depth int) (string, error) {
	if depth > 4 {
		return "", errors.New("indexes nested too deep")
	}
	alg, hexd, ok := strings.Cut(d.Digest, ":")
	if !ok || alg != "sha256" {
		return "", fmt.Errorf("digest %q is not sha256:<hex>", d.Digest)
	}
	blob, ok := members["blobs/sha256/"+hexd]
	if !ok {
		return "", fmt.Errorf("blob %s is missing", d.Digest)
	}
	var doc index
	if err := json.Unmarshal(blob, &doc); err != nil {
		return "", fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	mt := d.MediaType
	if mt == "" {
		mt = doc.MediaType
	}
	switch {
	case mt == mediaOCIIndex || mt == mediaDockerList || (doc.Config == nil && len(doc.Manifests) > 0):
		for _, m := range doc.Manifests {
			if m.Platform == nil || (m.Platform.OS == "linux" && m.Platform.Architecture == arch) {
				return configOf(members, m, arch, depth+1)
			}
		}
		return "", fmt.Errorf("no linux/%s image in index %s", arch, d.Digest)
	case doc.Config != nil:
		return doc.Config.Digest, nil
	}
	return "", fmt.Errorf("blob %s is neither an index nor a manifest", d.Digest)
}

func dockerImages(members map[string][]byte, sums map[string]string) (*Archive, error) {
	var manifest []struct {
		Config   string   `json:"Config"`
		RepoTags []string `json:"RepoTags"`
	}
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	a := &Archive{Format: "docker-archive", Images: map[string]string{}}
	for _, m := range manifest {
		sum, ok := sums[path.Clean(m.Config)]
		if !ok {
			return nil, fmt.Errorf("manifest.json: config %s is missing", m.Config)
		}
		for _, tag := range m.RepoTags {
			norm, err := Normalize(tag)
			if err != nil {
				return nil, fmt.Errorf("manifest.json names %q: %w", tag, err)
			}
			a.Images[norm] = "sha256:" + sum
		}
	}
	return a, nil
}

// The grammar of an image reference (the distribution project's): a
// registry host with an optional port, path components of lowercase
// letters and digits joined by separators, and a tag. Nothing else can be
// named, so a reference maps to a mirror path that stays below the mirror.
var (
	hostPattern      = regexp.MustCompile(`^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(\.([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*(:[0-9]+)?$`)
	componentPattern = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
	tagPattern       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// maxNameLength bounds an image's name (without its tag), as registries do.
const maxNameLength = 255

// Normalize spells an image reference the way containerd's CRI stores it:
// a registry host first (docker.io when the reference has none, with
// library/ for its official images) and a tag (latest when none is given).
// Digest references are refused: an archive is imported by name.
func Normalize(ref string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%q is not an image reference such as registry.k8s.io/pause:3.10: %s", ref, why)
	}
	if ref == "" {
		return bad("it is empty")
	}
	if strings.Contains(ref, "@") {
		return "", fmt.Errorf("%q names a digest; name the image by tag, as the archive does", ref)
	}
	name, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	if !tagPattern.MatchString(tag) {
		return bad("a tag is at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'")
	}
	if len(name) > maxNameLength {
		return bad(fmt.Sprintf("its name is longer than %d characters", maxNameLength))
	}
	parts := strings.Split(name, "/")
	if hasHost(name) {
		if !hostPattern.MatchString(parts[0]) {
			return bad("its registry is not a host name with an optional :port")
		}
		parts = parts[1:]
	}
	for _, part := range parts {
		if !componentPattern.MatchString(part) {
			return bad("each part of its path is lowercase letters and digits, joined by '.', '_', '__' or '-'")
		}
	}
	if !hasHost(name) {
		if !strings.Contains(name, "/") {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	return name + ":" + tag, nil
}

// hasHost says whether a reference starts with a registry host: a first
// component with a dot or a port, or localhost.
func hasHost(ref string) bool {
	first, _, found := strings.Cut(ref, "/")
	return found && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// MirrorPath is where a mirror serves the archive of a normalized
// reference: images/<name>/<tag>.tar.
func MirrorPath(normalized string) string {
	i := strings.LastIndex(normalized, ":")
	return "images/" + normalized[:i] + "/" + normalized[i+1:] + ".tar"
}
