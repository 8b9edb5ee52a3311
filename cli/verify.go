package cli

import (
	"time"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
	"github.com/spf13/cobra"
)

func newVerifyCommand(s Streams, g *globalOptions) *cobra.Command {
	var endpoint string
	var timeout time.Duration
	var pod bool
	cmd := &cobra.Command{
		Use:   "verify [PROFILE]",
		Short: "Check the runtime over CRI (and the CNI plugins)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			v := &steps.Verify{Endpoint: "unix://" + paths.ContainerdSocket, Timeout: timeout}
			if len(args) == 1 {
				_, graph, err := loadGraph(s, g, args[0])
				if err != nil {
					return err
				}
				if st := graph.Step(steps.VerifyID); st != nil {
					v = st.Action.(*steps.Verify)
				}
			}
			if endpoint != "" {
				v.Endpoint = endpoint
			}
			if pod {
				v.Pod = true
			}
			ctx, cancel := signalContext()
			defer cancel()
			h, err := host.New(g.root)
			if err != nil {
				return err
			}
			report, err := v.Run(ctx, &steps.Env{Host: h})
			if err != nil {
				return err
			}
			if g.json {
				if err := writeJSON(s.Out, report); err != nil {
					return err
				}
			} else {
				_ = report.Table(s.Out)
			}
			if !report.OK() {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "CRI endpoint (default: the profile's, or unix:///run/containerd/containerd.sock)")
	cmd.Flags().BoolVar(&pod, "pod", false, "also run a pod sandbox and a container through each runtime handler, and remove them")
	cmd.Flags().DurationVar(&timeout, "timeout", plan.DefaultVerifyWait, "how long to wait for the socket without a profile")
	return cmd
}
