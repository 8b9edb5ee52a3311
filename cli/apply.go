package cli

import "github.com/spf13/cobra"

func newApplyCommand(s Streams, g *globalOptions) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "apply PROFILE",
		Short: "Converge the host to the profile, then verify",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runGraph(s, g, args[0], true, o)
		},
	}
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for another nodeup holding the lock instead of failing")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show unchanged steps too")
	addApplyDay2Flags(cmd, &o)
	return cmd
}
