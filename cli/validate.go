package cli

import (
	"github.com/spf13/cobra"
)

func (inv *invocation) validateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate PROFILE",
		Short: "Parse and check a profile; touches nothing on the host",
		Long: `Parse a profile (a file, or a directory of *.hcl files merged) and check it: unknown blocks
and attributes, types, versions against the built-in sha256 pins, paths, runtimes, the raw
containerd TOML and the kubelet configuration. Every problem is reported in one run, each
with file:line:col and the source line. Nothing on the host is read or written.`,
		Example: `  nodeup validate node.hcl
  nodeup validate profiles/ --var kubelet_version=1.34.11
  nodeup validate node.hcl --json`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			_, g, err := inv.loadGraph(args[0])
			v := validateView{path: args[0], diags: inv.diags}
			if err == nil {
				v.valid, v.steps = true, g.Len()
			}
			if serr := inv.show(v); serr != nil {
				return serr
			}
			return err
		}),
	}
	inv.profileFlags(cmd)
	return cmd
}
