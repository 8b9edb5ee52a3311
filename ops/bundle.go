package ops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nodeup/nodeup/bundle"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
)

// BundleOptions are what bundle is asked.
type BundleOptions struct {
	// Path is the profile; Out the directory, or FILE.tar, written.
	Path, Out string
	// CacheDir holds the downloads; "": nodeup's in the user cache
	// directory.
	CacheDir string
	// Arches are the architectures bundled; none: the profile's.
	Arches []string
	// Binaries are the nodeup binaries by architecture; this nodeup goes
	// for its own architecture when none is given for it.
	Binaries map[string]string
	// Version is this nodeup's version, for the manifest.
	Version string
	// From are sources to take the artifacts from before those the
	// profile names: mirrors in the bundle's layout (FROM/HOST/PATH), such
	// as another bundle or an internal mirror the nodes will not use.
	From []string
}

// BundleReport is what a bundle holds.
type BundleReport struct {
	Out    string
	Arches []string
	// Files are the bundle's files, sorted by path.
	Files []bundle.Entry
	// Artifacts counts the release artifacts, Images the image archives
	// and ProfileFiles the profile's files.
	Artifacts, Images, ProfileFiles int
	// NodeupMissing are the architectures the bundle holds no nodeup for
	// (each is also logged as a warning).
	NodeupMissing []string
}

// Bundle writes every artifact and image archive the profile needs, for
// each architecture, as a mirror with nodeup and the profile: load, list,
// download (each checked against its sha256), then write at once.
func Bundle(ctx context.Context, c *Config, o BundleOptions) (*BundleReport, error) {
	// Refused before anything is downloaded (and again when written).
	if err := bundle.Replaceable(o.Out); err != nil {
		return nil, err
	}
	contents, err := c.bundleContents(o.Path, o.Arches)
	if err != nil {
		return nil, err
	}
	arches := contents.arches
	for arch := range o.Binaries {
		if !slices.Contains(arches, arch) {
			return nil, fmt.Errorf("--nodeup-binary %s=...: the bundle is for %s; add --arch %s", arch, strings.Join(arches, ", "), arch)
		}
	}
	snapshot, err := plan.Snapshot(contents.profile)
	if err != nil {
		return nil, fmt.Errorf("the bundle carries the profile: %w", err)
	}
	cacheDir, err := bundleCache(o.CacheDir)
	if err != nil {
		return nil, err
	}
	files, err := c.fetchAll(ctx, cacheDir, contents.downloads(o.From))
	if err != nil {
		return nil, err
	}
	files = append(files, profileFiles(snapshot)...)
	binaries, missing, err := nodeupFiles(arches, o.Binaries, o.Version)
	if err != nil {
		return nil, err
	}
	files = append(files, binaries...)
	if err := bundle.Write(o.Out, bundle.Manifest{NodeupVersion: o.Version, Arches: arches}, files); err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, arch := range missing {
		c.logger().Warn(fmt.Sprintf("the bundle holds no nodeup for linux/%s: add --nodeup-binary %s=FILE", arch, arch))
	}
	artifacts, images := contents.counts()
	r := &BundleReport{Out: o.Out, Arches: arches, Artifacts: artifacts, Images: images,
		ProfileFiles: len(snapshot), NodeupMissing: missing}
	for _, f := range files {
		r.Files = append(r.Files, f.Entry)
	}
	return r, nil
}

// bundleCache is the download cache dir, or nodeup's in the user cache
// directory, created.
func bundleCache(dir string) (string, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("bundle: %w; pass --cache DIR", err)
		}
		dir = filepath.Join(base, "nodeup")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bundle: %w; pass a writable --cache DIR", err)
	}
	return dir, nil
}

// profileFiles are the profile's files as the bundle holds them.
func profileFiles(snapshot []plan.SnapshotFile) []bundle.File {
	var files []bundle.File
	for _, f := range snapshot {
		// A file holding a secret gets no world-readable hash.
		files = append(files, bundle.ProfileFile(f.Rel, f.Data, f.Mode, f.Sensitive))
	}
	return files
}

// nodeupFiles are the nodeup binaries of the bundle: the one given for
// each architecture, or this nodeup for its own. missing names the
// architectures left without one.
func nodeupFiles(arches []string, given map[string]string, version string) (files []bundle.File, missing []string, err error) {
	binaries := maps.Clone(given)
	if binaries == nil {
		binaries = map[string]string{}
	}
	if self, err := os.Executable(); err == nil && runtime.GOOS == "linux" && binaries[runtime.GOARCH] == "" && slices.Contains(arches, runtime.GOARCH) {
		binaries[runtime.GOARCH] = self
	}
	for _, arch := range arches {
		file := binaries[arch]
		if file == "" {
			missing = append(missing, arch)
			continue
		}
		e, err := fileEntry(file)
		if err != nil {
			return nil, nil, fmt.Errorf("--nodeup-binary %s=%s: %w", arch, file, err)
		}
		e.Component, e.Arch, e.Version, e.Path = bundle.ComponentNodeup, arch, version, bundle.NodeupPath(arch)
		files = append(files, bundle.File{Entry: e, From: file, Mode: 0o755})
	}
	return files, missing, nil
}

// carried is a file the bundle downloads, with the architectures it serves.
type carried struct {
	steps.Carried
	arches []string
}

// bundleContents is what a bundle holds for a profile beside nodeup and
// the profile's own files: the release artifacts of each architecture and
// the image archives of all, each once.
type bundleContents struct {
	profile *profile.Profile // as loaded for the first architecture
	arches  []string
	files   []*carried
}

// counts are the artifacts and the image archives among the files.
func (bc *bundleContents) counts() (artifacts, images int) {
	for _, f := range bc.files {
		if f.Entry.Component == bundle.ComponentImage {
			images++
		} else {
			artifacts++
		}
	}
	return artifacts, images
}

// bundleContents loads the profile once per architecture and asks each
// step that downloads (steps.Bundled) what the bundle must carry.
func (c *Config) bundleContents(profilePath string, arches []string) (*bundleContents, error) {
	bc := &bundleContents{}
	if len(arches) == 0 {
		loaded, err := c.LoadProfile(profilePath)
		if err != nil {
			return nil, err
		}
		bc.profile, arches = loaded.Profile, []string{loaded.Profile.Node.Arch}
	}
	bc.arches = slices.Compact(slices.Sorted(slices.Values(arches)))
	byKey := map[string]*carried{}
	bySum := map[string]*carried{}
	for _, arch := range bc.arches {
		forArch := *c
		forArch.Load.Arch, forArch.Load.Arches = arch, bc.arches
		loaded, graph, err := forArch.LoadGraph(profilePath)
		if err != nil {
			return nil, err
		}
		p := loaded.Profile
		if p.Node.Arch != arch {
			return nil, fmt.Errorf("%s: node.arch is %q, so the profile is for %s only; remove node.arch to bundle it for --arch %s", profilePath, p.Node.Arch, p.Node.Arch, arch)
		}
		if bc.profile == nil {
			bc.profile = p
		}
		for _, id := range graph.IDs() {
			b, ok := graph.Step(id).Action.(steps.Bundled)
			if !ok {
				continue
			}
			cf, err := b.Carried(arch)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", profilePath, err)
			}
			if seen := byKey[cf.Key]; seen != nil {
				seen.arches = append(seen.arches, arch)
				continue
			}
			// The download cache holds files by sum: two artifacts with one
			// sum would be one file, an architecture's stored under
			// another's path. The profile's rules refuse that; this is the
			// backstop. (One image archive may serve several images.)
			artifact := cf.Entry.Component != bundle.ComponentImage
			if other := bySum[cf.SHA256]; other != nil && artifact {
				at := graph.Step(id).Range
				return nil, fmt.Errorf("%s:%d: %s and %s have the same sha256 %s, but one file cannot be both: give each the sha256 of its own file (sha256 = { amd64 = \"...\", arm64 = \"...\" })",
					at.Filename, at.Start.Line, other.What, cf.What, cf.SHA256)
			}
			byKey[cf.Key] = &carried{Carried: cf, arches: []string{arch}}
			if artifact {
				bySum[cf.SHA256] = byKey[cf.Key]
			}
			bc.files = append(bc.files, byKey[cf.Key])
		}
	}
	// Artifacts first, then image archives, as the manifest lists them.
	slices.SortStableFunc(bc.files, func(a, b *carried) int {
		return cmp.Compare(boolInt(a.Entry.Component == bundle.ComponentImage), boolInt(b.Entry.Component == bundle.ComponentImage))
	})
	return bc, nil
}

// sources are where the file is downloaded from: each of from in the
// bundle's layout, then where the profile says.
func (cf *carried) sources(from []string) []string {
	var out []string
	for _, f := range from {
		switch {
		case f != FromUpstream:
			out = append(out, strings.TrimRight(f, "/")+"/"+cf.Entry.Path)
		case strings.HasPrefix(cf.Entry.URL, "https://") || strings.HasPrefix(cf.Entry.URL, "http://"):
			// The sha256 is checked whatever the source.
			out = append(out, cf.Entry.URL)
		}
	}
	return slices.Compact(append(out, cf.Candidates...))
}

// FromUpstream, as a bundle source, is each file's upstream URL: a bundle
// made where there is a network, of a profile whose nodes have none
// (upstream = false).
const FromUpstream = "upstream"

// BundleListing is what a bundle of a profile would hold, found without
// downloading anything.
type BundleListing struct {
	Arches []string        `json:"arches"`
	Files  []ListedArchive `json:"files"`
}

// ListedArchive is one download a bundle would hold.
type ListedArchive struct {
	Component string   `json:"component"`
	Version   string   `json:"version,omitempty"`
	Image     string   `json:"image,omitempty"`
	Arches    []string `json:"arches"`
	URL       string   `json:"url,omitempty"`
	// Path is where the bundle, and so a mirror, holds it.
	Path    string   `json:"path"`
	SHA256  string   `json:"sha256"`
	Sources []string `json:"sources"`
}

// ListBundle says what Bundle would download for the profile, for each
// architecture, and from where (o.From first), without downloading.
func ListBundle(c *Config, o BundleOptions) (*BundleListing, error) {
	contents, err := c.bundleContents(o.Path, o.Arches)
	if err != nil {
		return nil, err
	}
	l := &BundleListing{Arches: contents.arches, Files: []ListedArchive{}}
	for _, cf := range contents.files {
		e := cf.Entry
		l.Files = append(l.Files, ListedArchive{Component: e.Component, Version: e.Version, Image: e.Image, Arches: cf.arches,
			URL: e.URL, Path: e.Path, SHA256: cf.SHA256, Sources: cf.sources(o.From)})
	}
	return l, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bundleDownload is one file a bundle downloads: where from, its sha256,
// and what it is in the bundle once it is in the cache.
type bundleDownload struct {
	what       string // for download errors: "containerd 2.3.4 (amd64)"
	candidates []string
	sha256     string
	// file's errors say which artifact or image they are about.
	file func(cached string) (bundle.File, error)
}

// downloads lists what the bundle downloads, from the sources in from
// first.
func (bc *bundleContents) downloads(from []string) []bundleDownload {
	var out []bundleDownload
	for _, cf := range bc.files {
		out = append(out, bundleDownload{
			what:       cf.What,
			candidates: cf.sources(from),
			sha256:     cf.SHA256,
			file:       func(cached string) (bundle.File, error) { return carriedFile(cf, cached) },
		})
	}
	return out
}

// fetchAll downloads into the cache, up to Parallelism at once, and
// returns the downloads as bundle files. The first failure stops the
// others.
func (c *Config) fetchAll(ctx context.Context, cacheDir string, downloads []bundleDownload) ([]bundle.File, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := c.Fetcher(cacheDir)
	// A bundle is usually fetched from upstream's few hosts: as many at once
	// from each as from all.
	f.PerHost = c.stepsAtOnce()
	files := make([]bundle.File, len(downloads))
	errs := make([]error, len(downloads))
	sem := make(chan struct{}, c.stepsAtOnce())
	var wg sync.WaitGroup
	for i, d := range downloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			cached, err := f.Fetch(ctx, d.candidates, d.sha256)
			if err != nil {
				err = fmt.Errorf("bundle %s: %w", d.what, err)
			} else {
				files[i], err = d.file(cached)
			}
			if err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		// The first real failure, not a download it cancelled.
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// carriedFile is a cached download as a file of the bundle, once it
// serves each architecture that needs it.
func carriedFile(cf *carried, cached string) (bundle.File, error) {
	if cf.Serves != nil {
		for _, arch := range cf.arches {
			if err := cf.Serves(cached, arch); err != nil {
				if len(cf.arches) > 1 {
					err = fmt.Errorf("%w (for %s)", err, arch)
				}
				return bundle.File{}, err
			}
		}
	}
	fi, err := os.Stat(cached)
	if err != nil {
		return bundle.File{}, fmt.Errorf("bundle %s: %w", cf.What, err)
	}
	e := cf.Entry
	e.SHA256, e.Size = cf.SHA256, fi.Size()
	return bundle.File{Entry: e, From: cached, Mode: 0o644}, nil
}

// fileEntry hashes a file for the manifest.
func fileEntry(file string) (bundle.Entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return bundle.Entry{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return bundle.Entry{}, err
	}
	if !fi.Mode().IsRegular() {
		return bundle.Entry{}, fmt.Errorf("%s is not a regular file", file)
	}
	sum, err := digest.Reader(f)
	if err != nil {
		return bundle.Entry{}, err
	}
	return bundle.Entry{SHA256: sum, Size: fi.Size()}, nil
}

// VerifyBundleReport is what checking a bundle against its manifest found.
type VerifyBundleReport struct {
	Manifest *bundle.Manifest
	// Checks are the bundle's files, each with whether it matches.
	Checks []bundle.Check
	// Failed counts the checks that did not pass.
	Failed int
}

// VerifyBundle checks the bundle at p (a directory or FILE.tar) against
// its manifest.
func VerifyBundle(p string) (*VerifyBundleReport, error) {
	m, checks, err := bundle.Verify(p)
	if err != nil {
		return nil, err
	}
	r := &VerifyBundleReport{Manifest: m, Checks: checks}
	for _, c := range checks {
		if !c.OK {
			r.Failed++
		}
	}
	return r, nil
}
