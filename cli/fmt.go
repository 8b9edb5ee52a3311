package cli

import (
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/ops"
)

func (inv *invocation) fmtCommand() *cobra.Command {
	var check, diff bool
	cmd := &cobra.Command{
		Use:   "fmt [-check] [-diff] PROFILE...",
		Short: "Format profiles in the canonical HCL style",
		Long: `Rewrite profiles in the canonical HCL style (hclwrite): indentation, aligned "=" and
spacing. A directory means its *.hcl files. The files fmt changed are listed. With -check
nothing is written: the files that are not formatted are listed and fmt exits 1 if there
are any, for CI. A file that does not parse is reported with file:line:col and left alone.
Flags may be written with one dash or two (-check, --check).`,
		Example: `  nodeup fmt node.hcl
  nodeup fmt profiles/
  nodeup fmt -check profiles/     # exit 1 and list files that need formatting
  nodeup fmt -check -diff node.hcl`,
		Args:              somePROFILEs,
		ValidArgsFunction: hclFiles,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			return inv.runFmt(ops.FmtOptions{Paths: args, Check: check, Unformatted: inv.fmtLive(diff)})
		}),
	}
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; list the files that are not formatted and exit 1 if any")
	cmd.Flags().BoolVar(&diff, "diff", false, "show the changes as unified diffs")
	return cmd
}

// runFmt formats the profiles, or checks them, and shows what it found.
func (inv *invocation) runFmt(o ops.FmtOptions) error {
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	r, err := ops.Fmt(cfg, o)
	if err != nil {
		return err
	}
	v := fmtView{r: r, check: o.Check}
	if err := inv.show(v); err != nil {
		return err
	}
	return v.err()
}
