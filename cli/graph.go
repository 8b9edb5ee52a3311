package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
)

type graphStep struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Description string   `json:"description"`
	After       []string `json:"after"`
	Source      string   `json:"source,omitempty"`
	Sensitive   bool     `json:"sensitive,omitempty"`
}

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
			steps := inv.graphSteps(g)
			switch {
			case inv.g.json:
				return inv.emit(map[string]any{"steps": steps}, true)
			case format == "dot":
				fmt.Fprint(inv.out, printable(g.Dot()))
			default:
				var b strings.Builder
				for _, s := range steps {
					fmt.Fprintf(&b, "%s\n  %s\n", s.ID, s.Description)
					if len(s.After) > 0 {
						fmt.Fprintf(&b, "  after: %s\n", strings.Join(s.After, ", "))
					}
					if s.Source != "" {
						fmt.Fprintf(&b, "  from: %s\n", s.Source)
					}
				}
				fmt.Fprint(inv.out, printable(b.String()))
			}
			return nil
		}),
	}
	inv.profileFlags(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "text or dot")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("text", "dot"))
	return cmd
}

// graphSteps lists the graph in order, steps that handle a secret
// described as (sensitive).
func (inv *invocation) graphSteps(g *graph.Graph) []graphStep {
	var out []graphStep
	for _, s := range g.Order() {
		gs := graphStep{ID: s.ID, Kind: s.Action.Kind(), Description: s.Action.Describe(), After: append([]string{}, s.Deps...)}
		if s.Range.Filename != "" {
			gs.Source = fmt.Sprintf("%s:%d", s.Range.Filename, s.Range.Start.Line)
		}
		if inv.secrets.step(s.ID) {
			gs.Sensitive = true
			gs.Description = plan.Redacted
		}
		out = append(out, gs)
	}
	return out
}
