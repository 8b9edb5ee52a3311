package cli

import (
	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/host"
	"github.com/spf13/cobra"
)

func newFactsCommand(s Streams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "facts",
		Short: "Show what nodeup detects about the host",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			h, err := host.New(g.root)
			if err != nil {
				return err
			}
			f := facts.Gather(h, g.root == "/")
			if g.json {
				return writeJSON(s.Out, f)
			}
			return f.Table(s.Out)
		},
	}
}
