package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/ops"
	"github.com/nodeup/nodeup/plan"
)

func (inv *invocation) verifyCommand() *cobra.Command {
	var o ops.VerifyOptions
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
			if len(args) == 1 {
				o.Path = args[0]
			}
			return inv.runVerify(o)
		}),
	}
	inv.profileFlags(cmd)
	inv.rootFlag(cmd)
	cmd.Flags().StringVar(&o.Endpoint, "endpoint", "", "CRI endpoint (default: the profile's, or unix:///run/containerd/containerd.sock)")
	cmd.Flags().BoolVar(&o.Pod, "pod", false, "also run a pod sandbox and a container through each runtime handler, and remove them")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", plan.DefaultVerifyWait, "how long to wait for the socket without a profile")
	return cmd
}

// runVerify checks the runtime and shows each check; exit 1 when any
// fails.
func (inv *invocation) runVerify(o ops.VerifyOptions) error {
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	r, err := ops.Verify(ctx, cfg, o)
	if err != nil {
		return err
	}
	v := verifyView{r}
	if err := inv.show(v); err != nil {
		return err
	}
	return v.err()
}
