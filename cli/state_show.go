package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/ops"
)

func (inv *invocation) stateShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use: "show ITEM",
		Long: `Show one record and what the node holds there now: a node path (a file, a tree or one of
its members, a directory, a backup), an artifact name (containerd) or a unit
(containerd.service). An item the state does not record is an error.`,
		Short: "Show one record: a node path (file, tree, directory), an artifact (containerd) or a unit (containerd.service)",
		Args:  cobra.ExactArgs(1),
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			cfg, err := inv.config()
			if err != nil {
				return err
			}
			it, err := ops.ShowState(cfg, args[0])
			if err != nil {
				return err
			}
			return inv.show(stateItemView{it})
		}),
		Example: `  nodeup state show containerd
  nodeup state show /etc/containerd/config.toml
  nodeup state show containerd.service --json`,
	}
	inv.rootFlag(cmd)
	return cmd
}
