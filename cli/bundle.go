package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/bundle"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
)

type bundleOptions struct {
	out, cacheDir string
	arches        []string
	binaries      []string // ARCH=FILE
}

func (inv *invocation) bundleCommand() *cobra.Command {
	var o bundleOptions
	cmd := &cobra.Command{
		Use:   "bundle PROFILE -o DIR|FILE.tar",
		Short: "Write every artifact the profile needs as a mirror (a directory or a tar), with nodeup and the profile",
		Long: "bundle downloads (or takes from the cache) every artifact of the profile and the archive of\n" +
			"each image block, checks its sha256, and writes them in the mirror layout HOST/PATH (an image\n" +
			"archive at images/NAME/TAG.tar, or at its url's HOST/PATH), beside nodeup/nodeup-linux-ARCH,\n" +
			"the profile in profile/ (its files and the values given now, as nodeup cloud-init carries\n" +
			"it) and manifest.json (component, version, arch, image, sha256 and size of every file). An\n" +
			"image archive serves every architecture: it must hold the image for each. The result is a\n" +
			"mirror: mirror { urls = [\"file:///srv/bundle\"] }, or file:///srv/bundle.tar for the tar,\n" +
			"or any static web server for the directory. Check one with nodeup bundle verify.\n\n" +
			"The profile's values may be secrets: the bundle holds them in profile/nodeup.auto.vars.hcl.",
		Example: `  nodeup bundle node.hcl -o /srv/nodeup
  nodeup bundle node.hcl -o nodeup-bundle.tar --arch amd64 --arch arm64 --nodeup-binary arm64=bin/nodeup-linux-arm64
  nodeup bundle node.hcl -o nodeup-bundle.tar --cache /var/tmp/nodeup-cache --json
  nodeup bundle verify nodeup-bundle.tar`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			return inv.runBundle(o, args[0])
		}),
	}
	inv.profileFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.out, "output", "o", "", "directory, or FILE.tar, to write (required)")
	f.StringVar(&o.cacheDir, "cache", "", "download cache (default: the user cache directory)")
	f.StringArrayVar(&o.arches, "arch", nil, "bundle the artifacts for `ARCH` (amd64, arm64; repeatable; default: the profile's)")
	f.StringArrayVar(&o.binaries, "nodeup-binary", nil, "put `ARCH=FILE` in the bundle as nodeup for ARCH (repeatable; default: this nodeup, for its own architecture)")
	f.IntVar(&inv.g.parallelism, "parallelism", 0, "downloads run at once (0: twice the number of CPUs)")
	_ = cmd.MarkFlagRequired("output")
	_ = cmd.RegisterFlagCompletionFunc("cache", dirs)
	_ = cmd.RegisterFlagCompletionFunc("arch", fixedCompletion("amd64", "arm64"))
	_ = cmd.RegisterFlagCompletionFunc("parallelism", cobra.NoFileCompletions)
	cmd.AddCommand(inv.bundleVerifyCommand())
	return cmd
}

// bundleArtifact is a release artifact a profile needs, for one arch.
type bundleArtifact struct {
	step *steps.Artifact
	arch string
}

// bundleImage is an image archive a profile preloads: one file for every
// architecture, at the path a node asks its mirrors for.
type bundleImage struct {
	step *steps.Image
	path string
	// arches are the platforms the archive must hold the image for.
	arches []string
}

// bundleContents is what a bundle holds for a profile beside nodeup and
// the profile's own files.
type bundleContents struct {
	profile   *profile.Profile // as loaded for the first architecture
	arches    []string
	artifacts []bundleArtifact
	images    []bundleImage
}

func (inv *invocation) runBundle(o bundleOptions, profilePath string) error {
	binaries, err := parseBinaries(o.binaries)
	if err != nil {
		return err
	}
	for _, a := range o.arches {
		if a != "amd64" && a != "arm64" {
			return fmt.Errorf("--arch %q: use amd64 or arm64", a)
		}
	}
	c, err := inv.bundleContents(profilePath, o.arches)
	if err != nil {
		return err
	}
	arches := c.arches
	for arch := range binaries {
		if !slices.Contains(arches, arch) {
			return fmt.Errorf("--nodeup-binary %s=...: the bundle is for %s; add --arch %s", arch, strings.Join(arches, ", "), arch)
		}
	}
	snapshot, err := plan.Snapshot(c.profile)
	if err != nil {
		return fmt.Errorf("the bundle carries the profile: %w", err)
	}
	if o.cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("bundle: %w; pass --cache DIR", err)
		}
		o.cacheDir = filepath.Join(base, "nodeup")
	}
	if err := os.MkdirAll(o.cacheDir, 0o755); err != nil {
		return fmt.Errorf("bundle: %w; pass a writable --cache DIR", err)
	}
	ctx, cancel := signalContext()
	defer cancel()
	files, err := inv.fetchAll(ctx, o.cacheDir, c.downloads())
	if err != nil {
		return err
	}
	for _, f := range snapshot {
		files = append(files, bundle.ProfileFile(f.Rel, f.Data, f.Mode, f.Sensitive))
	}
	if self, err := os.Executable(); err == nil && runtime.GOOS == "linux" && binaries[runtime.GOARCH] == "" && slices.Contains(arches, runtime.GOARCH) {
		binaries[runtime.GOARCH] = self
	}
	var missing []string
	for _, arch := range arches {
		file := binaries[arch]
		if file == "" {
			missing = append(missing, arch)
			continue
		}
		e, err := fileEntry(file)
		if err != nil {
			return fmt.Errorf("--nodeup-binary %s=%s: %w", arch, file, err)
		}
		e.Component, e.Arch, e.Version, e.Path = bundle.ComponentNodeup, arch, nodeupVersion(), bundle.NodeupPath(arch)
		files = append(files, bundle.File{Entry: e, From: file, Mode: 0o755})
	}
	if err := bundle.Write(o.out, bundle.Manifest{NodeupVersion: nodeupVersion(), Arches: arches}, files); err != nil {
		return err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, arch := range missing {
		inv.log.Warn(fmt.Sprintf("the bundle holds no nodeup for linux/%s: add --nodeup-binary %s=FILE", arch, arch))
	}
	if inv.g.json {
		var arts, all []bundle.Entry
		imgs := []bundle.Entry{}
		for _, f := range files {
			all = append(all, f.Entry)
			switch {
			case f.Component == bundle.ComponentImage:
				imgs = append(imgs, f.Entry)
			case f.URL != "":
				arts = append(arts, f.Entry)
			}
		}
		return inv.emit(map[string]any{"output": o.out, "arches": arches, "nodeup_missing": append([]string{}, missing...),
			"artifacts": arts, "images": imgs, "files": all, "manifest": bundle.ManifestName}, true)
	}
	for _, f := range files {
		fmt.Fprintf(inv.out, "%s  %s (%d bytes)\n", f.ShownSHA256(), printable(f.Path), f.Size)
	}
	images := ""
	switch n := len(c.images); n {
	case 0:
	case 1:
		images = ", 1 image archive"
	default:
		images = fmt.Sprintf(", %d image archives", n)
	}
	fmt.Fprintf(inv.out, "bundle %s: %d artifacts for %s%s, the profile (%d files), nodeup for %d of %d architectures, and %s\n",
		printable(o.out), len(c.artifacts), strings.Join(arches, ", "), images, len(snapshot), len(arches)-len(missing), len(arches), bundle.ManifestName)
	return nil
}

// bundleContents loads the profile once per architecture and lists the
// release artifacts of each and the image archives of all, without
// duplicates.
func (inv *invocation) bundleContents(profilePath string, arches []string) (*bundleContents, error) {
	c := &bundleContents{}
	if len(arches) == 0 {
		loaded, err := inv.loadProfile(profilePath)
		if err != nil {
			return nil, err
		}
		c.profile, arches = loaded.Profile, []string{loaded.Profile.Node.Arch}
	}
	c.arches = slices.Compact(slices.Sorted(slices.Values(arches)))
	defer func(arch string) { inv.g.arch = arch }(inv.g.arch)
	seen := map[string]bool{}
	imageAt := map[string]int{} // bundle path and sha256 -> index in c.images
	for _, arch := range c.arches {
		inv.g.arch = arch
		loaded, graph, err := inv.loadGraph(profilePath)
		if err != nil {
			return nil, err
		}
		p := loaded.Profile
		if p.Node.Arch != arch {
			return nil, fmt.Errorf("%s: node.arch is %q, so the profile is for %s only; remove node.arch to bundle it for --arch %s", profilePath, p.Node.Arch, p.Node.Arch, arch)
		}
		if c.profile == nil {
			c.profile = p
		}
		for _, id := range graph.IDs() {
			switch s := graph.Step(id).Action.(type) {
			case *steps.Artifact:
				if !seen[s.URL] {
					seen[s.URL] = true
					c.artifacts = append(c.artifacts, bundleArtifact{step: s, arch: arch})
				}
			case *steps.Image:
				rel, err := s.LayoutPath()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", profilePath, err)
				}
				// node.arch picks the platform inside the archive, so
				// each architecture names the same file; were it another,
				// bundle.Write would refuse two files at one path.
				key := rel + " " + s.SHA256
				if i, ok := imageAt[key]; ok {
					c.images[i].arches = append(c.images[i].arches, arch)
					continue
				}
				imageAt[key] = len(c.images)
				c.images = append(c.images, bundleImage{step: s, path: rel, arches: []string{arch}})
			}
		}
	}
	return c, nil
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

// downloads lists the artifacts and then the image archives.
func (c *bundleContents) downloads() []bundleDownload {
	var out []bundleDownload
	for _, ba := range c.artifacts {
		a, what := ba.step, fmt.Sprintf("%s %s (%s)", ba.step.Name, ba.step.Version, ba.arch)
		out = append(out, bundleDownload{
			what:       what,
			candidates: fetch.Candidates(a.Mirrors, a.URL, a.Upstream),
			sha256:     a.SHA256,
			file: func(cached string) (bundle.File, error) {
				f, err := artifactFile(a, ba.arch, cached)
				if err != nil {
					err = fmt.Errorf("bundle %s: %w", what, err)
				}
				return f, err
			},
		})
	}
	for _, bi := range c.images {
		out = append(out, bundleDownload{
			what:       "image " + bi.step.Ref,
			candidates: bi.step.Candidates(),
			sha256:     bi.step.SHA256,
			file:       func(cached string) (bundle.File, error) { return imageFile(bi, cached) },
		})
	}
	return out
}

// fetchAll downloads into the cache, up to --parallelism at once, and
// returns the downloads as bundle files. The first failure stops the
// others.
func (inv *invocation) fetchAll(ctx context.Context, cacheDir string, downloads []bundleDownload) ([]bundle.File, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := inv.fetcher(cacheDir)
	files := make([]bundle.File, len(downloads))
	errs := make([]error, len(downloads))
	sem := make(chan struct{}, inv.stepsAtOnce())
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

// artifactFile is a cached artifact as a file of the bundle, at its mirror
// layout path (SPEC section 6: mirror M serves https://HOST/PATH as
// M/HOST/PATH).
func artifactFile(a *steps.Artifact, arch, cached string) (bundle.File, error) {
	rel, err := fetch.LayoutPath(a.URL)
	if err != nil {
		return bundle.File{}, err
	}
	fi, err := os.Stat(cached)
	if err != nil {
		return bundle.File{}, err
	}
	return bundle.File{
		Entry: bundle.Entry{Component: a.Name, Version: a.Version, Arch: arch, URL: a.URL, Path: rel, SHA256: a.SHA256, Size: fi.Size()},
		From:  cached, Mode: 0o644,
	}, nil
}

// imageFile is a cached image archive as a file of the bundle, once it is
// known to hold the image for each architecture: an archive the node could
// not import is refused here rather than on the node.
func imageFile(bi bundleImage, cached string) (bundle.File, error) {
	for _, arch := range bi.arches {
		s := *bi.step
		s.Arch = arch
		if _, err := s.ArchiveID(cached); err != nil {
			if len(bi.arches) > 1 {
				err = fmt.Errorf("%w (for %s)", err, arch)
			}
			return bundle.File{}, err
		}
	}
	fi, err := os.Stat(cached)
	if err != nil {
		return bundle.File{}, err
	}
	im := bi.step
	return bundle.File{
		Entry: bundle.Entry{Component: bundle.ComponentImage, Image: im.Ref, URL: im.URL, Path: bi.path, SHA256: im.SHA256, Size: fi.Size()},
		From:  cached, Mode: 0o644,
	}, nil
}

// parseBinaries reads --nodeup-binary ARCH=FILE flags.
func parseBinaries(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		arch, file, ok := strings.Cut(f, "=")
		if !ok || (arch != "amd64" && arch != "arm64") || file == "" {
			return nil, fmt.Errorf("--nodeup-binary %q: want ARCH=FILE with ARCH amd64 or arm64, e.g. --nodeup-binary arm64=bin/nodeup-linux-arm64", f)
		}
		out[arch] = file
	}
	return out, nil
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

func (inv *invocation) bundleVerifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR|FILE.tar",
		Short: "Check a bundle against its manifest: every file there, with its size and sha256, and nothing else",
		Long: "verify reads the bundle's " + bundle.ManifestName + " and checks that the bundle holds exactly the\n" +
			"files it lists, each with its size and sha256, and that nodeup can read its format. One\n" +
			"line per file; exit 1 when any does not match. Run it on the machine the bundle was\n" +
			"carried to, before using it as a mirror.",
		Example: `  nodeup bundle verify /srv/nodeup
  nodeup bundle verify nodeup-bundle.tar
  ./nodeup/nodeup-linux-amd64 bundle verify nodeup-bundle.tar --json`,
		Args: oneBUNDLE,
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []string{"tar"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			m, checks, err := bundle.Verify(args[0])
			if err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if !c.OK {
					failed++
				}
			}
			if inv.g.json {
				if err := inv.emit(map[string]any{"manifest": m, "checks": checks, "failed": failed}, failed == 0); err != nil {
					return err
				}
			} else {
				for _, c := range checks {
					if c.OK {
						fmt.Fprintf(inv.out, "ok    %s\n", printable(c.Path))
					} else {
						fmt.Fprintf(inv.out, "FAIL  %s: %s\n", printable(c.Path), printable(c.Problem))
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("bundle %s: %d of %d files do not match %s; write the bundle again with nodeup bundle, or copy it again", args[0], failed, len(checks), bundle.ManifestName)
			}
			if !inv.g.json {
				fmt.Fprintf(inv.out, "bundle %s: %d files match %s (format %d, written by nodeup %s, for %s)\n",
					printable(args[0]), len(checks), bundle.ManifestName, m.FormatVersion, printable(m.NodeupVersion), printable(strings.Join(m.Arches, ", ")))
			}
			return nil
		}),
	}
}

// oneBUNDLE takes the one bundle argument.
func oneBUNDLE(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf("want one bundle argument (a directory, or a .tar file), got %d", len(args))}
	}
	return nil
}
