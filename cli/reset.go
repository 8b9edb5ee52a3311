package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/engine/state"
	"github.com/nodeup/nodeup/internal/escape"
	"github.com/nodeup/nodeup/node/paths"
)

type resetOptions struct {
	yes   bool
	purge bool
	wait  bool
}

func (inv *invocation) resetCommand() *cobra.Command {
	var o resetOptions
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Undo what nodeup did on this node, from its state alone; restore the files it replaced",
		Long: `Reset takes nodeup's work off the node using only ` + paths.StateFile + `: it stops
and disables the units nodeup enabled, removes the binaries, trees and files it installed
and wrote, puts back every file it backed up (content, mode and owner), removes the
directories it created when they are empty, and removes its state. Files changed since
nodeup wrote them are left in place. The download cache stays unless --purge.

It prints what it will do first, and asks on a terminal; elsewhere it needs --yes.`,
		Example: `  sudo nodeup reset
  sudo nodeup reset --yes --purge
  nodeup reset --root /mnt/image --yes`,
		Args: cobra.NoArgs,
		RunE: inv.action(func(*cobra.Command, []string) error {
			return inv.runReset(o)
		}),
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "reset without asking")
	cmd.Flags().BoolVar(&o.purge, "purge", false, "also remove the download cache ("+paths.CacheDir+")")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for another nodeup holding the lock instead of failing")
	inv.rootFlag(cmd)
	return cmd
}

func (inv *invocation) runReset(o resetOptions) error {
	g := &inv.g
	ctx, cancel := signalContext()
	defer cancel()
	env, cleanup, err := inv.newEnv(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	h := env.Host
	release, err := h.Lock(ctx, o.wait, func(holder int) {
		env.Logf("waiting for another nodeup (pid %d) to release %s", holder, paths.LockFile)
	})
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	defer release()
	// Read again with the lock held: an apply may have changed it.
	if env.State, err = state.Load(h); err != nil {
		return err
	}
	p, err := engine.PlanReset(ctx, env, engine.ResetOptions{Purge: o.purge})
	if err != nil {
		return err
	}
	if p.Changes() == 0 {
		if g.json {
			return inv.emit(map[string]any{"steps": []engine.ResetStep{}, "done": true}, true)
		}
		fmt.Fprintf(inv.out, "Nothing to reset: nodeup has no state on this node (%s).\n", paths.StateFile)
		return nil
	}
	if !g.json {
		fmt.Fprintln(inv.out, "nodeup reset will:")
		printResetSteps(inv.out, p.Steps)
	}
	if !o.yes {
		ok, err := inv.confirm()
		if err != nil {
			if g.json {
				_ = inv.emit(map[string]any{"steps": p.Steps, "done": false}, true)
			}
			return err
		}
		if !ok {
			return errors.New("reset cancelled; nothing was changed")
		}
	}
	runErr := p.Run(ctx)
	if g.json {
		if err := inv.emit(map[string]any{"steps": p.Steps, "done": runErr == nil}, true); err != nil {
			return err
		}
	} else if runErr == nil {
		fmt.Fprintf(inv.out, "Reset: %d steps done; nodeup's state is gone. A plan now shows what an apply would install again.\n", p.Changes())
	}
	return runErr
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
