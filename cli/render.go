package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/ops"
)

func (inv *invocation) renderCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "render PROFILE --out DIR",
		Short: "Write every rendered file under DIR, laid out as under /",
		Long: `Write every file the profile gives the node — containerd's config.toml, the hosts.toml
of each registry, the systemd units, the KubeletConfiguration, crictl.yaml, the kernel
module and sysctl lists, the RuntimeClasses — under DIR, laid out as under / (DIR/etc/...),
and list them. Files hold sensitive values where the node needs them; the listing never
shows them. Windows profiles (node.os = "windows") are rendered only.`,
		Example: `  nodeup render node.hcl --out /tmp/node
  diff -r /tmp/node/etc /etc
  nodeup render node.hcl -o out --json`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			cfg, err := inv.config()
			if err != nil {
				return err
			}
			r, err := ops.Render(cfg, ops.RenderOptions{Path: args[0], Out: out, Wrote: inv.renderedLive()})
			if err != nil {
				return err
			}
			return inv.show(renderView{r})
		}),
	}
	inv.profileFlags(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "directory to write the files into (required)")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.RegisterFlagCompletionFunc("out", dirs)
	return cmd
}
