package cli

import "github.com/spf13/cobra"

func (inv *invocation) planCommand() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan PROFILE",
		Short: "Show what apply would change on this host, with diffs",
		Long: `Check every step of the profile against the host and show what apply would change:
one line per step that changes ("+" create, "~" update), the unified diff of each file,
and a summary. A file that holds a sensitive value shows "(sensitive content)" instead of
its diff. plan writes nothing and takes no lock; it runs as any user that can read the node.

--out FILE also saves the plan: the profile with the values given (so FILE is written 0600),
the phase, what the plan saw of the node and what each step would do. nodeup apply FILE
applies exactly that plan, elsewhere or later, and refuses, changing nothing, when the node
or an input changed since.`,
		Example: `  nodeup plan node.hcl
  nodeup plan node.hcl --detailed-exitcode   # 0 no changes, 2 changes, 1 error
  nodeup plan node.hcl --root /mnt/image --phase bake
  nodeup plan node.hcl --out node.plan && sudo nodeup apply node.plan
  nodeup plan node.hcl --json | jq '.steps[] | select(.action != "no-op")'`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			return inv.runPlan(args[0], o)
		}),
	}
	inv.profileFlags(cmd)
	inv.rootFlag(cmd)
	inv.phaseFlag(cmd)
	inv.parallelismFlag(cmd)
	cmd.Flags().BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 0 with no changes, 2 with changes, 1 on error")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show unchanged steps too")
	cmd.Flags().StringVar(&o.out, "out", "", "also save the plan to `FILE` (0600: it holds the values given) for nodeup apply FILE")
	addPlanDay2Flags(cmd, &o)
	return cmd
}

// addPlanDay2Flags adds plan's flags for upgrades (as apply's) and drift
// monitoring.
func addPlanDay2Flags(cmd *cobra.Command, o *planOptions) {
	addApplyDay2Flags(cmd, o)
	cmd.Flags().StringVar(&o.metricsFile, "metrics-file", "", "also write the drift, the last apply and a CRI verification to `PATH` (a path on this machine, not under --root) in node_exporter's textfile format, atomically")
}
