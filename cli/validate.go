package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCommand(s Streams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "validate PROFILE",
		Short: "Parse and check a profile; touches nothing on the host",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			_, graph, err := loadGraph(s, g, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s: valid, %d steps\n", args[0], graph.Len())
			return nil
		},
	}
}
