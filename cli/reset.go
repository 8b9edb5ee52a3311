package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/ops"
)

type resetOptions struct {
	yes   bool
	purge bool
	wait  bool
}

func (inv *invocation) resetCommand() *cobra.Command {
	var o resetOptions
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Undo what nodeup did on this node, from its state alone; restore the files it replaced",
		Long: `Reset takes nodeup's work off the node using only ` + paths.StateFile + `: it stops
and disables the units nodeup enabled, removes the binaries, trees and files it installed
and wrote, puts back every file it backed up (content, mode and owner), removes the
directories it created when they are empty, and removes its state. Files changed since
nodeup wrote them are left in place. The download cache stays unless --purge.

It prints what it will do first, and asks on a terminal; elsewhere it needs --yes.`,
		Example: `  sudo nodeup reset
  sudo nodeup reset --yes --purge
  nodeup reset --root /mnt/image --yes`,
		Args: cobra.NoArgs,
		RunE: inv.action(func(*cobra.Command, []string) error {
			return inv.runReset(o)
		}),
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "reset without asking")
	cmd.Flags().BoolVar(&o.purge, "purge", false, "also remove the download cache ("+paths.CacheDir+")")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for another nodeup holding the lock instead of failing")
	inv.rootFlag(cmd)
	return cmd
}

// runReset shows the reset's steps, asks unless --yes, and resets.
func (inv *invocation) runReset(o resetOptions) error {
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	r, err := ops.Reset(ctx, cfg, ops.ResetOptions{Purge: o.purge, Wait: o.wait, Confirm: inv.confirmReset(o.yes)})
	if r == nil || errors.Is(err, ops.ErrResetCancelled) {
		return err
	}
	if serr := inv.show(resetView{r}); serr != nil {
		return serr
	}
	return err
}
