package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/bundle"
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

func newBundleCommand(s Streams, g *globalOptions) *cobra.Command {
	var o bundleOptions
	cmd := &cobra.Command{
		Use:   "bundle PROFILE -o DIR|FILE.tar",
		Short: "Write every artifact the profile needs as a mirror (a directory or a tar), with nodeup and the profile",
		Long: "bundle downloads (or takes from the cache) every artifact of the profile, checks its sha256,\n" +
			"and writes them in the mirror layout HOST/PATH, beside nodeup/nodeup-linux-ARCH, the profile\n" +
			"in profile/ (its files and the values given now, as nodeup cloud-init carries it) and\n" +
			"manifest.json (component, version, arch, sha256 and size of every file). The result is a\n" +
			"mirror: mirror { urls = [\"file:///srv/bundle\"] }, or file:///srv/bundle.tar for the tar,\n" +
			"or any static web server for the directory. Check one with nodeup bundle verify.",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runBundle(s, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.out, "output", "o", "", "directory, or FILE.tar, to write (required)")
	f.StringVar(&o.cacheDir, "cache", "", "download cache (default: the user cache directory)")
	f.StringArrayVar(&o.arches, "arch", nil, "bundle the artifacts for `ARCH` (amd64, arm64; repeatable; default: the profile's)")
	f.StringArrayVar(&o.binaries, "nodeup-binary", nil, "put `ARCH=FILE` in the bundle as nodeup for ARCH (repeatable; default: this nodeup, for its own architecture)")
	_ = cmd.MarkFlagRequired("output")
	cmd.AddCommand(newBundleVerifyCommand(s, g))
	return cmd
}

// bundleArtifact is a release artifact a profile needs, for one arch.
type bundleArtifact struct {
	step *steps.Artifact
	arch string
}

func runBundle(s Streams, g *globalOptions, o bundleOptions, profilePath string) error {
	binaries, err := parseBinaries(o.binaries)
	if err != nil {
		return err
	}
	for _, a := range o.arches {
		if a != "amd64" && a != "arm64" {
			return fmt.Errorf("--arch %q: use amd64 or arm64", a)
		}
	}
	p, artifacts, arches, err := bundleArtifacts(s, g, profilePath, o.arches)
	if err != nil {
		return err
	}
	for arch := range binaries {
		if !slices.Contains(arches, arch) {
			return fmt.Errorf("--nodeup-binary %s=...: the bundle is for %s; add --arch %s", arch, strings.Join(arches, ", "), arch)
		}
	}
	snapshot, err := plan.Snapshot(p)
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
	files, err := fetchArtifacts(ctx, serialized(s), g, o.cacheDir, artifacts)
	if err != nil {
		return err
	}
	for _, f := range snapshot {
		files = append(files, bundle.File{
			Entry: bundle.Entry{Component: bundle.ComponentProfile, Path: path.Join(bundle.ProfileDir, f.Rel), SHA256: sha256Of(f.Data), Size: int64(len(f.Data))},
			Data:  f.Data, Mode: f.Mode,
		})
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
	for _, f := range files {
		fmt.Fprintf(s.Out, "%s  %s (%d bytes)\n", f.SHA256, f.Path, f.Size)
	}
	fmt.Fprintf(s.Out, "bundle %s: %d artifacts for %s, the profile (%d files), nodeup for %d of %d architectures, and %s\n",
		o.out, len(artifacts), strings.Join(arches, ", "), len(snapshot), len(arches)-len(missing), len(arches), bundle.ManifestName)
	for _, arch := range missing {
		logLine(s.Err, g.logFormat, "warning", fmt.Sprintf("the bundle holds no nodeup for linux/%s: add --nodeup-binary %s=FILE", arch, arch))
	}
	return nil
}

// bundleArtifacts loads the profile once per architecture and lists the
// release artifacts of each, without duplicates. It returns the profile as
// loaded for the first architecture.
func bundleArtifacts(s Streams, g *globalOptions, profilePath string, arches []string) (*profile.Profile, []bundleArtifact, []string, error) {
	var first *profile.Profile
	if len(arches) == 0 {
		p, err := loadProfile(s, g, profilePath)
		if err != nil {
			return nil, nil, nil, err
		}
		first, arches = p, []string{p.Node.Arch}
	}
	var out []bundleArtifact
	seen := map[string]bool{}
	for _, arch := range slices.Compact(slices.Sorted(slices.Values(arches))) {
		ga := *g
		ga.arch = arch
		p, graph, err := loadGraph(s, &ga, profilePath)
		if err != nil {
			return nil, nil, nil, err
		}
		if p.Node.Arch != arch {
			return nil, nil, nil, fmt.Errorf("%s: node.arch is %q, so the profile is for %s only; remove node.arch to bundle it for --arch %s", profilePath, p.Node.Arch, p.Node.Arch, arch)
		}
		if first == nil {
			first = p
		}
		for _, id := range graph.IDs() {
			a, ok := graph.Step(id).Action.(*steps.Artifact)
			if ok && !seen[a.URL] {
				seen[a.URL] = true
				out = append(out, bundleArtifact{step: a, arch: arch})
			}
		}
	}
	return first, out, slices.Compact(slices.Sorted(slices.Values(arches))), nil
}

// fetchArtifacts downloads the artifacts into the cache, up to
// --parallelism at once, and returns them as bundle files. The first
// failure stops the others.
func fetchArtifacts(ctx context.Context, s Streams, g *globalOptions, cacheDir string, artifacts []bundleArtifact) ([]bundle.File, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &fetch.Fetcher{CacheDir: cacheDir, Progress: s.Err, IsTerminal: len(artifacts) == 1 && terminal(s.Err),
		Log: func(format string, args ...any) { logLine(s.Err, g.logFormat, "info", fmt.Sprintf(format, args...)) }}
	files := make([]bundle.File, len(artifacts))
	errs := make([]error, len(artifacts))
	sem := make(chan struct{}, max(g.parallelism, 1))
	var wg sync.WaitGroup
	for i, ba := range artifacts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			a := ba.step
			cached, err := f.Fetch(ctx, fetch.Candidates(a.Mirrors, a.URL, a.Upstream), a.SHA256)
			if err == nil {
				files[i], err = artifactFile(a, ba.arch, cached)
			}
			if err != nil {
				errs[i] = fmt.Errorf("bundle %s %s (%s): %w", a.Name, a.Version, ba.arch, err)
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
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return bundle.Entry{}, err
	}
	return bundle.Entry{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// nodeupVersion is the version `nodeup version` prints.
func nodeupVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

func newBundleVerifyCommand(s Streams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR|FILE.tar",
		Short: "Check a bundle against its manifest: every file there, with its size and sha256, and nothing else",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
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
			if g.json {
				if err := writeJSON(s.Out, map[string]any{"manifest": m, "checks": checks, "failed": failed}); err != nil {
					return err
				}
			} else {
				for _, c := range checks {
					if c.OK {
						fmt.Fprintf(s.Out, "ok    %s\n", c.Path)
					} else {
						fmt.Fprintf(s.Out, "FAIL  %s: %s\n", c.Path, c.Problem)
					}
				}
			}
			if failed > 0 {
				fmt.Fprintf(s.Err, "nodeup: bundle %s: %d of %d files do not match %s\n", args[0], failed, len(checks), bundle.ManifestName)
				return errReported
			}
			if !g.json {
				fmt.Fprintf(s.Out, "bundle %s: %d files match %s (format %d, written by nodeup %s, for %s)\n",
					args[0], len(checks), bundle.ManifestName, m.FormatVersion, m.NodeupVersion, strings.Join(m.Arches, ", "))
			}
			return nil
		},
	}
}
