package cli

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/nodeup/nodeup/internal/escape"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/ops"
)

// resetView is how a reset ended: done, nothing to do, or stopped (its
// steps, in the JSON document, with done false).
type resetView struct{ r *ops.ResetReport }

func (v resetView) human(inv *invocation) {
	switch {
	case v.r.Changes == 0:
		fmt.Fprintf(inv.out, "Nothing to reset: nodeup has no state on this node (%s).\n", paths.StateFile)
	case v.r.Done:
		fmt.Fprintf(inv.out, "Reset: %d steps done; nodeup's state is gone. A plan now shows what an apply would install again.\n", v.r.Changes)
	}
}

func (v resetView) document() any {
	steps := v.r.Steps
	if v.r.Changes == 0 {
		steps = []engine.ResetStep{}
	}
	return map[string]any{"steps": steps, "done": v.r.Done}
}

// ok is true even for a reset that stopped: its document says done false.
func (v resetView) ok() bool { return true }

// confirmReset shows the reset's steps on a terminal or a log, then asks
// whether to go on unless yes.
func (inv *invocation) confirmReset(yes bool) func([]engine.ResetStep) (bool, error) {
	return func(steps []engine.ResetStep) (bool, error) {
		if !inv.g.json {
			fmt.Fprintln(inv.out, "nodeup reset will:")
			printResetSteps(inv.out, steps)
		}
		if yes {
			return true, nil
		}
		return inv.confirm()
	}
}

// printResetSteps shows one aligned line per step.
func printResetSteps(w io.Writer, steps []engine.ResetStep) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, st := range steps {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", st.Action, escape.Line(st.Target), escape.Line(st.Detail))
	}
	_ = tw.Flush()
}

// confirm asks on a terminal whether to go on. Anywhere else it fails and
// says to pass --yes: a script must say what it means.
func (inv *invocation) confirm() (bool, error) {
	g := &inv.g
	in, ok := inv.raw.In.(*os.File)
	if g.json || !ok || !term.IsTerminal(int(in.Fd())) {
		return false, errors.New("reset changes the node and this is not a terminal to ask on: pass --yes to reset")
	}
	fmt.Fprint(inv.out, "Reset this node? Type yes to go on: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "yes" || answer == "y", nil
}
