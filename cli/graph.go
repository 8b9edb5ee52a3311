package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newGraphCommand(s Streams, g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph PROFILE",
		Short: "Print the step graph",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			_, graph, err := loadGraph(s, g, args[0])
			if err != nil {
				return err
			}
			switch format {
			case "text":
				fmt.Fprint(s.Out, graph.Text())
			case "dot":
				fmt.Fprint(s.Out, graph.Dot())
			default:
				return fmt.Errorf("--format %q: use text or dot", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or dot")
	return cmd
}
