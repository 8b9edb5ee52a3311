// Package images reads container image archives — OCI image layouts and
// docker-archives (`docker save`), as tar files, optionally gzip-compressed
// — and imports them into containerd.
//
// Its promises: an archive is read as a stream, never whole: only the small
// JSON documents that lead to an image (index.json, manifest.json, the
// indexes and manifests on the way to a platform's config, each at most
// MaxDocument bytes) are held in memory, and a member the reader does not
// need is skipped. Open says which images an archive names; Archive.Image
// follows one of them to the image ID (config digest) the CRI reports once
// it is imported, so a node can be checked against an archive without
// importing it; Image.WriteArchive writes the archive of that image alone,
// named by that reference alone, which is what Import should be given: ctr
// imports every name an archive carries.
package images

import (
	"fmt"
	"regexp"
	"strings"
)

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
