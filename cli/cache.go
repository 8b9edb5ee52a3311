package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

func (inv *invocation) cacheCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Manage nodeup's download cache",
		Long: "nodeup keeps every download in " + paths.CacheDir + ", named by its sha256, so a second\n" +
			"apply downloads nothing. cache clean empties it.",
		Example: `  sudo nodeup cache clean
  nodeup cache clean --root /mnt/image`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(inv.cacheCleanCommand())
	return cmd
}

func (inv *invocation) cacheCleanCommand() *cobra.Command {
	var dir string
	var wait bool
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Empty the download cache (" + paths.CacheDir + " under --root, or --cache DIR)",
		Long: "clean removes every download nodeup keeps in " + paths.CacheDir + " (under --root), as an\n" +
			"image build does last so the image does not carry the archives it installed. It holds the\n" +
			"node's lock while it does, so it never removes what a running apply is using. --cache DIR\n" +
			"empties another cache, such as the one nodeup bundle fills.",
		Example: `  sudo nodeup cache clean
  nodeup cache clean --root /mnt/image --wait
  nodeup cache clean --cache ~/.cache/nodeup --json`,
		Args: noArgs,
		RunE: inv.action(func(*cobra.Command, []string) error {
			h, node, err := cacheHost(inv.g.root, dir)
			if err != nil {
				return err
			}
			if dir == "" {
				ctx, cancel := signalContext()
				defer cancel()
				release, err := h.Lock(ctx, wait, func(holder int) {
					inv.log.Info(fmt.Sprintf("waiting for another nodeup (pid %d) to release %s", holder, paths.LockFile))
				})
				if err != nil {
					return err
				}
				defer release()
			}
			files, bytes, err := emptyDir(h, node)
			where := dir
			if where == "" {
				where = path.Join(inv.g.root, paths.CacheDir)
			}
			if err != nil {
				return fmt.Errorf("cache clean %s: %w", where, err)
			}
			if inv.g.json {
				return inv.emit(map[string]any{"cache": where, "files": files, "bytes": bytes}, true)
			}
			fmt.Fprintf(inv.out, "cache %s: removed %d files, %s\n", printable(where), files, fetch.Size(bytes))
			return nil
		}),
	}
	inv.rootFlag(cmd)
	cmd.Flags().StringVar(&dir, "cache", "", "empty `DIR` instead of the node's cache")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for another nodeup holding the lock instead of failing")
	_ = cmd.RegisterFlagCompletionFunc("cache", dirs)
	return cmd
}

// cacheHost returns the host the cache is in and the cache's node path:
// the node's cache under --root, or DIR itself.
func cacheHost(root, dir string) (*host.Host, string, error) {
	if dir == "" {
		h, err := host.New(root)
		return h, paths.CacheDir, err
	}
	h, err := host.New(dir)
	if err != nil {
		return nil, "", fmt.Errorf("--cache: %w", err)
	}
	return h, "/", nil
}

// emptyDir removes everything in node directory dir, counting the regular
// files and their bytes. A missing directory is empty.
func emptyDir(h *host.Host, dir string) (files int, bytes int64, err error) {
	var count func(p string) error
	count = func(p string) error {
		entries, err := h.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			child := path.Join(p, e.Name())
			if e.IsDir() {
				if err := count(child); err != nil {
					return err
				}
				continue
			}
			if info, err := h.Lstat(child); err == nil && info.Mode().IsRegular() {
				files++
				bytes += info.Size()
			}
		}
		return nil
	}
	if err := count(dir); errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	} else if err != nil {
		return 0, 0, err
	}
	entries, err := h.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		if err := h.RemoveAll(path.Join(dir, e.Name())); err != nil {
			return 0, 0, err
		}
	}
	return files, bytes, nil
}
