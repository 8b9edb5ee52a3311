package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
)

func (inv *invocation) verifyCommand() *cobra.Command {
	var endpoint string
	var timeout time.Duration
	var pod bool
	cmd := &cobra.Command{
		Use:   "verify [PROFILE]",
		Short: "Check the runtime over CRI (and the CNI plugins)",
		Long: `Ask the runtime over the CRI socket whether the node works: Version answers, RuntimeReady,
every handler of the profile registered, the cgroup driver the profile sets, NetworkReady
(required with verify.network_ready), and each CNI plugin of the profile answering VERSION.
With --pod (or verify { pod = true }), also run a pod sandbox and a container through each
handler: the container runs, its cgroup is where the driver puts it, its network namespace
has lo up (and an address with cni.networks); everything it made is removed. No pod runs
while a kubelet does. One line per check; exit 1 when any fails. Without a profile, the
default socket and no handler or plugin checks.`,
		Example: `  nodeup verify node.hcl
  nodeup verify node.hcl --pod
  nodeup verify --endpoint unix:///run/containerd/containerd.sock
  nodeup verify node.hcl --json`,
		Args:              optionalPROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			v := &steps.Verify{Endpoint: "unix://" + paths.ContainerdSocket, Timeout: timeout}
			if len(args) == 1 {
				_, g, err := inv.loadGraph(args[0])
				if err != nil {
					return err
				}
				if found := steps.VerifyOf(g); found != nil {
					v = found
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
			h, err := host.New(inv.g.root)
			if err != nil {
				return err
			}
			report, err := v.Run(ctx, &steps.Env{Host: h})
			if err != nil {
				return err
			}
			if inv.g.json {
				if err := inv.emit(report, report.OK()); err != nil {
					return err
				}
			} else {
				inv.table(report.Table)
			}
			if !report.OK() {
				return report.Err()
			}
			return nil
		}),
	}
	inv.profileFlags(cmd)
	inv.rootFlag(cmd)
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "CRI endpoint (default: the profile's, or unix:///run/containerd/containerd.sock)")
	cmd.Flags().BoolVar(&pod, "pod", false, "also run a pod sandbox and a container through each runtime handler, and remove them")
	cmd.Flags().DurationVar(&timeout, "timeout", plan.DefaultVerifyWait, "how long to wait for the socket without a profile")
	return cmd
}
