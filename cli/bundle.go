package cli

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/steps"
)

// ManifestEntry is one artifact of a bundle's manifest.json.
type ManifestEntry struct {
	URL    string `json:"url"`
	Path   string `json:"path"` // relative to the bundle: HOST/PATH of the URL
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func (inv *invocation) bundleCommand() *cobra.Command {
	var out, cacheDir string
	cmd := &cobra.Command{
		Use:   "bundle PROFILE -o DIR|FILE.tar",
		Short: "Write every artifact the profile needs as a mirror (a directory or a tar)",
		Long: "bundle downloads (or takes from the cache) every artifact of the profile, checks its sha256,\n" +
			"and writes them in the mirror layout M/HOST/PATH with a manifest.json, so the result can be\n" +
			"used as mirror { urls = [\"file:///path/to/bundle\"] } or served by any static web server.",
		Example: `  nodeup bundle node.hcl -o /srv/nodeup
  nodeup bundle node.hcl -o bundle.tar --cache /var/tmp/nodeup-cache
  nodeup bundle node.hcl -o bundle.tar --json`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			_, graph, err := inv.loadGraph(args[0])
			if err != nil {
				return err
			}
			if cacheDir == "" {
				base, err := os.UserCacheDir()
				if err != nil {
					return fmt.Errorf("bundle: %w; pass --cache DIR", err)
				}
				cacheDir = filepath.Join(base, "nodeup")
			}
			if err := os.MkdirAll(cacheDir, 0o755); err != nil {
				return fmt.Errorf("bundle: %w; pass a writable --cache DIR", err)
			}
			f := inv.fetcher(cacheDir)
			ctx, cancel := signalContext()
			defer cancel()

			var entries []ManifestEntry
			files := map[string]string{} // bundle path -> cached file
			for _, id := range graph.IDs() {
				a, ok := graph.Step(id).Action.(*steps.Artifact)
				if !ok {
					continue
				}
				cached, err := f.Fetch(ctx, fetch.Candidates(a.Mirrors, a.URL, a.Upstream), a.SHA256)
				if err != nil {
					return fmt.Errorf("bundle %s %s: %w", a.Name, a.Version, err)
				}
				// The layout of SPEC section 6: mirror M serves URL https://HOST/PATH as M/HOST/PATH.
				rel, err := fetch.LayoutPath(a.URL)
				if err != nil {
					return fmt.Errorf("bundle %s: %w", a.Name, err)
				}
				fi, err := os.Stat(cached)
				if err != nil {
					return err
				}
				entries = append(entries, ManifestEntry{URL: a.URL, Path: rel, SHA256: a.SHA256, Size: fi.Size()})
				files[rel] = cached
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
			manifest, err := json.MarshalIndent(map[string]any{"artifacts": entries}, "", "  ")
			if err != nil {
				return err
			}
			manifest = append(manifest, '\n')
			if strings.HasSuffix(out, ".tar") {
				err = writeBundleTar(out, entries, files, manifest)
			} else {
				err = writeBundleDir(out, entries, files, manifest)
			}
			if err != nil {
				return err
			}
			if inv.g.json {
				return inv.emit(map[string]any{"output": out, "artifacts": entries}, true)
			}
			for _, e := range entries {
				fmt.Fprintf(inv.out, "%s  %s (%d bytes)\n", e.SHA256, printable(e.Path), e.Size)
			}
			fmt.Fprintf(inv.out, "bundle %s: %d artifacts and manifest.json\n", printable(out), len(entries))
			return nil
		}),
	}
	inv.profileFlags(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "directory, or FILE.tar, to write (required)")
	cmd.Flags().StringVar(&cacheDir, "cache", "", "download cache (default: the user cache directory)")
	_ = cmd.MarkFlagRequired("output")
	_ = cmd.RegisterFlagCompletionFunc("cache", dirs)
	return cmd
}

// writeBundleDir lays the artifacts out under dir; each file is written to
// a temp name and renamed, so a bundle never holds a partial artifact.
func writeBundleDir(dir string, entries []ManifestEntry, files map[string]string, manifest []byte) error {
	put := func(rel string, r io.Reader) error {
		dst, err := fetch.Within(dir, rel)
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("bundle: %w; check that %s is writable", err, dir)
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".nodeup-tmp-*")
		if err != nil {
			return fmt.Errorf("bundle: %w; check that %s is writable", err, dir)
		}
		defer os.Remove(tmp.Name())
		if _, err := io.Copy(tmp, r); err != nil {
			tmp.Close()
			return fmt.Errorf("bundle: write %s: %w", dst, err)
		}
		if err := tmp.Chmod(0o644); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), dst)
	}
	for _, e := range entries {
		src, err := os.Open(files[e.Path])
		if err != nil {
			return err
		}
		err = put(e.Path, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	return put("manifest.json", strings.NewReader(string(manifest)))
}

// writeBundleTar writes the same layout as one tar file.
func writeBundleTar(file string, entries []ManifestEntry, files map[string]string, manifest []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".nodeup-tmp-*")
	if err != nil {
		return fmt.Errorf("bundle: %w; check that %s is writable", err, filepath.Dir(file))
	}
	defer os.Remove(tmp.Name())
	tw := tar.NewWriter(tmp)
	// Directories first; sorted, a parent comes before its children.
	dirs := map[string]bool{}
	for _, e := range entries {
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range sortedKeys(dirs) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
			return err
		}
	}
	for _, e := range entries {
		src, err := os.Open(files[e.Path])
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.Path, Mode: 0o644, Size: e.Size}); err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "manifest.json", Mode: 0o644, Size: int64(len(manifest))}); err != nil {
		return err
	}
	if _, err := tw.Write(manifest); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
