package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/plan"
)

type formattedFile struct {
	Path    string `json:"path"`
	Changed bool   `json:"changed"` // not in canonical format (with -check: left as it was)
}

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
			files, err := hclSources(args)
			if err != nil {
				return err
			}
			var listed []formattedFile
			var unformatted []string
			parseErrs := 0
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("fmt: %w", err)
				}
				parsed, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
				if diags.HasErrors() {
					inv.report(map[string]*hcl.File{f: parsed}, diags)
					parseErrs++
					continue
				}
				out := hclwrite.Format(src)
				changed := !bytes.Equal(src, out)
				listed = append(listed, formattedFile{Path: f, Changed: changed})
				if !changed {
					continue
				}
				unformatted = append(unformatted, f)
				if !inv.g.json {
					fmt.Fprintln(inv.out, printable(f))
					if diff {
						inv.printDiff(f, plan.HideSensitiveValues(src, f), plan.HideSensitiveValues(out, f))
					}
				}
				if !check {
					if err := writeInPlace(f, out); err != nil {
						return err
					}
				}
			}
			failed := parseErrs > 0 || (check && len(unformatted) > 0)
			if inv.g.json {
				if listed == nil {
					listed = []formattedFile{}
				}
				if err := inv.emit(map[string]any{"files": listed, "check": check}, !failed); err != nil {
					return err
				}
			}
			switch {
			case parseErrs > 0:
				return fmt.Errorf("fmt: %d file(s) do not parse; fix them and run nodeup fmt again", parseErrs)
			case check && len(unformatted) > 0:
				return fmt.Errorf("fmt -check: %d file(s) are not formatted; run nodeup fmt on them", len(unformatted))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; list the files that are not formatted and exit 1 if any")
	cmd.Flags().BoolVar(&diff, "diff", false, "show the changes as unified diffs")
	return cmd
}

func (inv *invocation) printDiff(name string, a, b []byte) {
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)),
		FromFile: name, ToFile: name, Context: 3,
	})
	printer{w: inv.out, color: painter(inv.colorOut)}.diff(stepView{Diff: d})
}

// hclSources lists the files of fmt's arguments: files as they are,
// directories' *.hcl files in name order.
func hclSources(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("fmt: %w; pass profile files or directories of *.hcl files", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		matches, err := plan.HCLFiles(a)
		if err != nil {
			return nil, fmt.Errorf("fmt: %w", err)
		}
		out = append(out, matches...)
	}
	return out, nil
}

// writeInPlace replaces a file's content atomically, keeping its mode.
func writeInPlace(path string, content []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nodeup-fmt-*")
	if err != nil {
		return fmt.Errorf("fmt: %w; check that the directory of %s is writable", err, path)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("fmt: write %s: %w", path, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
