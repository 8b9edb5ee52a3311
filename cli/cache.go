package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/ops"
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
			cfg, err := inv.config()
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			r, err := ops.CleanCache(ctx, cfg, ops.CleanCacheOptions{Dir: dir, Wait: wait})
			if err != nil {
				return err
			}
			return inv.show(cacheCleanView{r})
		}),
	}
	inv.rootFlag(cmd)
	cmd.Flags().StringVar(&dir, "cache", "", "empty `DIR` instead of the node's cache")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for another nodeup holding the lock instead of failing")
	_ = cmd.RegisterFlagCompletionFunc("cache", dirs)
	return cmd
}
