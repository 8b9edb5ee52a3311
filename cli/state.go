package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/ops"
)

func (inv *invocation) stateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Show what nodeup installed and wrote on this node (list | show ITEM)",
		Long: `State reads ` + paths.StateFile + ` alone, no profile: what nodeup installed and
wrote on this node, with versions and sha256, the units it enabled, the directories it
created, the files it backed up, and how the last apply ended.`,
		Example: `  nodeup state list
  nodeup state show containerd`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(inv.stateListCommand(), inv.stateShowCommand())
	return cmd
}

func (inv *invocation) stateListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the artifacts, files, trees, units, directories and backups nodeup recorded",
		Long: `List what ` + paths.StateFile + ` records: each artifact with its version, sha256 and the
release it replaced, each file with its sha256, the trees, the units with their links, the
directories nodeup created, the backups it keeps and how the last apply ended.`,
		Args: cobra.NoArgs,
		RunE: inv.action(func(*cobra.Command, []string) error {
			cfg, err := inv.config()
			if err != nil {
				return err
			}
			l, err := ops.ListState(cfg)
			if err != nil {
				return err
			}
			return inv.show(stateListView{l})
		}),
		Example: `  nodeup state list
  nodeup state list --json | jq .artifacts
  nodeup state list --root /mnt/image`,
	}
	inv.rootFlag(cmd)
	return cmd
}
