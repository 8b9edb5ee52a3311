package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/ops"
)

func (inv *invocation) factsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "facts",
		Short: "Show what nodeup detects about the host",
		Long: `Show what nodeup detects about the node behind --root: architecture, kernel, distribution,
package manager, whether systemd runs it, the cgroup version and controllers, /dev/kvm, and
the containerd and runc binaries already there with their versions. Then the preflight that
plan and apply check before they start: /etc/hosts and /etc/resolv.conf, the hostname and
its addresses, active swap, and the overlay and br_netfilter kernel modules.`,
		Example: `  nodeup facts
  nodeup facts --root /mnt/image
  nodeup facts --json | jq .cgroup`,
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: inv.action(func(*cobra.Command, []string) error {
			cfg, err := inv.config()
			if err != nil {
				return err
			}
			f, err := ops.Facts(cfg)
			if err != nil {
				return err
			}
			return inv.show(factsView{f})
		}),
	}
	inv.rootFlag(cmd)
	return cmd
}
