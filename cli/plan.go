package cli

import "github.com/spf13/cobra"

func newPlanCommand(s Streams, g *globalOptions) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan PROFILE",
		Short: "Show what apply would change on this host, with diffs",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runGraph(s, g, args[0], false, o)
		},
	}
	cmd.Flags().BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 0 with no changes, 2 with changes, 1 on error")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show unchanged steps too")
	addPlanDay2Flags(cmd, &o)
	return cmd
}
