package cli

import (
	"fmt"
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
			cleaned, err := fetch.Clean(h, node)
			files, bytes := cleaned.Files, cleaned.Bytes
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
