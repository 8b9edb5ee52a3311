package cli

import "github.com/spf13/cobra"

func (inv *invocation) applyCommand() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "apply PROFILE|PLAN",
		Short: "Converge the host to the profile, then verify",
		Long: `Show the plan, then converge the host: download and install what is missing (each
download's sha256 checked while it streams), write every file atomically, enable and start
the units, restart what changed, and verify the runtime over CRI. Each step's line is
printed as it finishes (with a timestamp when stdout is not a terminal); on a terminal each
download has its own progress bar. One apply runs at a time per root: a second fails at
once, or with --wait queues behind the first.

apply on this machine's / must run as root. In an image build, --phase bake installs and
enables everything without starting it, and keeps the profile with the values it was given
in /etc/nodeup/profile.d (nodeup.auto.vars.hcl); --phase boot on the booted node applies
that directory with no flags and does the rest.

Given a plan saved by nodeup plan --out instead of a profile, apply applies exactly that
plan: its profile, values, phase and flags. It plans again under the lock and refuses,
changing nothing, when anything moved since: a file a step writes, the state, what a step
would do, the profile where plan read it, or a value (--var-file and --var given now
override the plan's values; NODEUP_VAR_* do not). Without --root it applies under the
plan's root.`,
		Example: `  sudo nodeup apply node.hcl
  sudo nodeup apply node.hcl --wait
  nodeup apply node.hcl --root /mnt/image --phase bake
  sudo nodeup apply /etc/nodeup/profile.d --phase boot --log-format json
  sudo nodeup apply node.hcl --json > apply.json
  sudo nodeup apply node.plan   # from nodeup plan node.hcl --out node.plan`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(cmd *cobra.Command, args []string) error {
			o.rootSet, o.phaseSet = cmd.Flags().Changed("root"), cmd.Flags().Changed("phase")
			return inv.runApply(args[0], o)
		}),
	}
	inv.profileFlags(cmd)
	inv.rootFlag(cmd)
	inv.phaseFlag(cmd)
	inv.parallelismFlag(cmd)
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for another nodeup holding the lock instead of failing")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show unchanged steps in the plan too")
	addApplyDay2Flags(cmd, &o)
	return cmd
}

// addApplyDay2Flags adds the flags for upgrades, of apply and of the plan
// that shows what it would do.
func addApplyDay2Flags(cmd *cobra.Command, o *planOptions) {
	cmd.Flags().BoolVar(&o.allowDowngrade, "allow-downgrade", false, "move containerd to a release older than the node's even when it reads an older config schema")
}
