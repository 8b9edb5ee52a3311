package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (inv *invocation) graphCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph PROFILE",
		Short: "Print the step graph",
		Long: `Print the graph of steps the profile compiles to: each step's ID, what it does, the steps
it runs after, and the profile line it comes from. --format dot prints it for Graphviz.
Steps that handle a sensitive value are described as "(sensitive)".`,
		Example: `  nodeup graph node.hcl
  nodeup graph node.hcl --format dot | dot -Tsvg > graph.svg
  nodeup graph node.hcl --json`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			if format != "text" && format != "dot" {
				return fmt.Errorf("--format %q: use text or dot", printable(format))
			}
			_, g, err := inv.loadGraph(args[0])
			if err != nil {
				return err
			}
			return inv.show(graphView{g: g, steps: inv.graphSteps(g), dot: format == "dot"})
		}),
	}
	inv.profileFlags(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "text or dot")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("text", "dot"))
	return cmd
}
