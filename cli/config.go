package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/ops"
	"github.com/nodeup/nodeup/plan"
)

// signalContext is cancelled by SIGINT and SIGTERM, so an interrupted
// apply stops between atomic steps.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// config is what the operations take from this command line: the flags,
// and hooks that show what they hear the way this run shows things.
func (inv *invocation) config() (*ops.Config, error) {
	phase, err := parsePhase(inv.g.phase)
	if err != nil {
		return nil, err
	}
	var progress io.Writer = logBars{Writer: io.Discard, log: inv.log}
	if inv.screen != nil {
		progress = inv.screen
	}
	return &ops.Config{
		Root:        inv.g.root,
		Phase:       phase,
		Parallelism: inv.g.parallelism,
		Load: ops.LoadOptions{
			Vars:       inv.g.vars,
			VarFiles:   inv.g.varFiles,
			Environ:    inv.environ,
			Arch:       inv.g.arch,
			AllowFiles: inv.g.allowFiles,
			Timeout:    inv.g.loadTimeout,
		},
		EUID:     inv.sys.euid,
		Log:      inv.log,
		Progress: progress,
		Hooks: ops.Hooks{
			Loaded:      func(l *plan.Loaded) { inv.secrets.add(l.Sensitive...) },
			Diagnostics: func(files map[string]*hcl.File, diags hcl.Diagnostics) { inv.report(files, diags) },
			Compiled:    func(l *plan.Loaded, g *graph.Graph) { inv.secrets.markSteps(l.Profile, g) },
		},
	}, nil
}

// loadGraph reads a profile and compiles its step graph.
func (inv *invocation) loadGraph(path string) (*plan.Loaded, *graph.Graph, error) {
	cfg, err := inv.config()
	if err != nil {
		return nil, nil, err
	}
	return cfg.LoadGraph(path)
}
