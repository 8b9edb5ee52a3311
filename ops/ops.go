// Package ops holds nodeup's use cases, one function per command: each takes
// typed options and returns a typed report. No operation prints. What an
// operation has to tell while it runs (a profile's diagnostics, a step that
// finished, a warning, a download's progress) reaches its caller through the
// Config's hooks, logger and progress writer, so the command line alone
// decides how it looks.
package ops

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
)

// Config is what every operation takes from the command line: where the
// node is, how to load a profile, and who hears what happens.
type Config struct {
	// Root is the node's / on this machine ("/" or an image).
	Root string
	// Phase is what a run does: bake, boot or all.
	Phase steps.Phase
	// Parallelism bounds the steps or downloads run at once; 0 is twice
	// the CPUs.
	Parallelism int
	// Load says how profiles are loaded.
	Load LoadOptions
	// EUID is the user nodeup runs as; nil skips the check for root.
	EUID func() int
	// Log hears what the operation has to say beside its report.
	Log *slog.Logger
	// Progress hears downloads (fetch.Bars); nil: none shown.
	Progress io.Writer
	// Hooks hear the operation as it goes.
	Hooks Hooks
}

// LoadOptions are a profile's inputs beside its files.
type LoadOptions struct {
	Vars     []string // --var NAME=VALUE
	VarFiles []string // --var-file
	Environ  []string // NODEUP_VAR_* are read from here
	// Arch is the architecture a profile without node.arch is loaded for;
	// "" is this machine's.
	Arch string
	// Arches are all the architectures the profile is loaded for, one
	// load each (bundle --arch); none: Arch alone (plan.Options.Arches).
	Arches []string
	// AllowFiles are the directories outside the profile's own that
	// file() may read.
	AllowFiles []string
	// Timeout bounds the evaluation (0: LoadTimeout).
	Timeout time.Duration
}

// Hooks are called while an operation runs; any may be nil.
type Hooks struct {
	// Diagnostics hears a profile's diagnostics as they are found, with
	// the files they point into.
	Diagnostics func(files map[string]*hcl.File, diags hcl.Diagnostics)
	// Loaded hears a profile as soon as it is read, before its
	// diagnostics (the command line learns its secrets here).
	Loaded func(l *plan.Loaded)
	// Compiled hears a profile's graph before any step runs (the command
	// line learns which steps handle a secret).
	Compiled func(l *plan.Loaded, g *graph.Graph)
	// Planned hears an apply's plan before it converges the node.
	Planned func(planned []engine.Result)
	// Finished hears each step an apply finished.
	Finished func(r engine.Result)
}

func (c *Config) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Log
}

// stepsAtOnce is the parallelism asked for, or twice the CPUs.
func (c *Config) stepsAtOnce() int {
	if c.Parallelism > 0 {
		return c.Parallelism
	}
	return runtime.NumCPU() * 2
}

func (c *Config) diagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) {
	if c.Hooks.Diagnostics != nil && len(diags) > 0 {
		c.Hooks.Diagnostics(files, withoutEmptySubjects(diags))
	}
}

// withoutEmptySubjects drops the subject of a diagnostic that points at
// no file (a host's cgroup v1 against a profile with no node block): it is
// about the host, and an empty range would print as a source location
// ":0:0" with no source.
func withoutEmptySubjects(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		if d.Subject != nil && d.Subject.Filename == "" {
			c := *d
			c.Subject = nil
			d = &c
		}
		out = append(out, d)
	}
	return out
}

// logf is a printf-style function logging at level.
func logf(log *slog.Logger, level slog.Level) func(format string, args ...any) {
	return func(format string, args ...any) {
		log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}
