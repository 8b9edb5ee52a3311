package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/engine/state"
	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/host"
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
			h, err := host.New(inv.g.root)
			if err != nil {
				return err
			}
			st, _ := state.Load(h) // facts never fail: an unreadable state records no version
			f := facts.Gather(h, inv.g.root == "/", st.InstalledVersion)
			if inv.g.json {
				return inv.emit(f, true)
			}
			inv.table(f.Table)
			return nil
		}),
	}
	inv.rootFlag(cmd)
	return cmd
}
