package cli

import (
	"fmt"
	"github.com/nodeup/nodeup/plan"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/nodeup/nodeup/ops"
)

// fmtView is what fmt found. Its text is each file that was not
// formatted, said as it is found (fmtLive).
type fmtView struct {
	r     *ops.FmtReport
	check bool
}

func (v fmtView) human(*invocation) {}

func (v fmtView) document() any {
	files := v.r.Files
	if files == nil {
		files = []ops.FmtFile{}
	}
	return map[string]any{"files": files, "check": v.check}
}

func (v fmtView) ok() bool { return v.err() == nil }

// err fails fmt when a file does not parse, or with -check when a file is
// not formatted.
func (v fmtView) err() error {
	switch {
	case v.r.ParseErrors > 0:
		return fmt.Errorf("fmt: %d file(s) do not parse; fix them and run nodeup fmt again", v.r.ParseErrors)
	case v.check && v.r.Unformatted() > 0:
		return fmt.Errorf("fmt -check: %d file(s) are not formatted; run nodeup fmt on them", v.r.Unformatted())
	}
	return nil
}

// fmtLive names each file that is not formatted as fmt finds it, with
// its diff when asked; a JSON document lists the files at the end.
func (inv *invocation) fmtLive(diff bool) func(path string, src, formatted []byte) {
	if inv.g.json {
		return nil
	}
	return func(path string, src, formatted []byte) {
		fmt.Fprintln(inv.out, printable(path))
		if diff {
			// A sensitive variable's default shows as (sensitive).
			inv.printDiff(path, plan.HideSensitiveValues(src, path), plan.HideSensitiveValues(formatted, path))
		}
	}
}

func (inv *invocation) printDiff(name string, a, b []byte) {
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)),
		FromFile: name, ToFile: name, Context: 3,
	})
	printer{w: inv.out, color: painter(inv.colorOut)}.diff(stepView{Diff: d})
}
