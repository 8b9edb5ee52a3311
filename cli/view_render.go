package cli

import (
	"fmt"

	"github.com/nodeup/nodeup/ops"
)

// renderView is what render wrote. Its text is each file's line, said as
// the file is written (renderedLive).
type renderView struct{ r *ops.RenderReport }

func (v renderView) human(*invocation) {}

func (v renderView) document() any { return map[string]any{"out": v.r.Out, "files": v.r.Files} }

func (v renderView) ok() bool { return true }

// renderedLive names each file render writes as it is written; a JSON
// document lists them all at the end.
func (inv *invocation) renderedLive() func(ops.RenderedFile) {
	if inv.g.json {
		return nil
	}
	return func(f ops.RenderedFile) { fmt.Fprintln(inv.out, printable(f.Written)) }
}
