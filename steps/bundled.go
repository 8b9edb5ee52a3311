package steps

import (
	"fmt"

	"github.com/nodeup/nodeup/bundle"
	"github.com/nodeup/nodeup/node/fetch"
)

// Bundled is a kind whose download a bundle carries: nodeup bundle asks
// each step of the graph what file it needs, and a kind says so in its own
// file.
type Bundled interface {
	// Carried is the file the step downloads, as a bundle holds it, for a
	// profile loaded for arch.
	Carried(arch string) (Carried, error)
}

// Carried is one file of a bundle: where it comes from, where the bundle
// holds it, and the check it must pass for each architecture it serves.
type Carried struct {
	// Key is what makes two carried files one: a bundle holds one file
	// per key, for every architecture that needs it.
	Key string
	// What names it in errors: "containerd 2.3.4 (amd64)".
	What       string
	Candidates []string
	SHA256     string
	// Entry is its manifest entry, without the size.
	Entry bundle.Entry
	// Serves, when set, checks that the downloaded file serves arch.
	Serves func(file, arch string) error
}

// Carried is the release archive, at its mirror layout path (docs/profile.md:
// mirror M serves https://HOST/PATH as M/HOST/PATH).
func (a *Artifact) Carried(arch string) (Carried, error) {
	rel, err := fetch.LayoutPath(a.URL)
	if err != nil {
		return Carried{}, err
	}
	return Carried{
		Key:        a.URL,
		What:       fmt.Sprintf("%s (%s)", a.release(), arch),
		Candidates: fetch.Candidates(a.Mirrors, a.URL, a.Upstream),
		SHA256:     a.SHA256,
		Entry:      bundle.Entry{Component: a.Name, Version: a.Version, Arch: arch, URL: a.URL, Path: rel},
	}, nil
}

// Carried is the image archive: node.arch picks the platform inside it, so
// every architecture names the same file, which must hold the image for
// each (an archive the node could not import is refused when bundled, not
// on the node).
func (s *Image) Carried(string) (Carried, error) {
	rel, err := s.LayoutPath()
	if err != nil {
		return Carried{}, err
	}
	return Carried{
		Key:        rel + " " + s.SHA256,
		What:       "image " + s.Ref,
		Candidates: s.Candidates(),
		SHA256:     s.SHA256,
		Entry:      bundle.Entry{Component: bundle.ComponentImage, Image: s.Ref, URL: s.URL, Path: rel},
		Serves: func(file, arch string) error {
			forArch := *s
			forArch.Arch = arch
			_, err := forArch.ArchiveID(file)
			return err
		},
	}, nil
}
