package cli

import (
	"fmt"

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
			if err != nil {
				if inv.g.json {
					inv.emitValidation(false, 0)
				}
				return err
			}
			if inv.g.json {
				inv.emitValidation(true, g.Len())
				return nil
			}
			fmt.Fprintf(inv.out, "%s: valid, %d steps\n", printable(args[0]), g.Len())
			return nil
		}),
	}
	inv.profileFlags(cmd)
	return cmd
}

// emitValidation is validate's document: like terraform validate -json,
// valid, the error and warning counts and the diagnostics.
func (inv *invocation) emitValidation(valid bool, steps int) {
	errs, warns := 0, 0
	for _, d := range inv.diags {
		if d.Severity == "error" {
			errs++
		} else {
			warns++
		}
	}
	doc := map[string]any{"valid": valid, "error_count": errs, "warning_count": warns}
	if valid {
		doc["steps"] = steps
	}
	_ = inv.emit(doc, valid)
}
