package ops

import (
	"cmp"
	"fmt"
	"runtime"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
)

// LoadTimeout bounds the evaluation of a profile: a legitimate one takes
// milliseconds, and the limits of package plan stop every known way of
// making it take longer; this is the backstop for the ones nobody found.
const LoadTimeout = time.Minute

// LoadProfile reads and validates a profile; the Loaded and Diagnostics
// hooks hear it. It fails when any diagnostic is an error.
func (c *Config) LoadProfile(path string) (*plan.Loaded, error) {
	o := c.Load
	loaded, diags, err := loadBounded(path, plan.Options{
		Vars:     o.Vars,
		VarFiles: o.VarFiles,
		Environ:  o.Environ,
		HostArch: cmp.Or(o.Arch, runtime.GOARCH),
		Arches:   o.Arches,
		FileDirs: o.AllowFiles,
	}, o.Timeout)
	if err != nil {
		return nil, err
	}
	if c.Hooks.Loaded != nil {
		c.Hooks.Loaded(loaded)
	}
	c.diagnostics(loaded.Files, diags)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: %s", path, CountDiags(diags))
	}
	return loaded, nil
}

// LoadGraph reads a profile and compiles its step graph; the Compiled hook
// hears it.
func (c *Config) LoadGraph(path string) (*plan.Loaded, *graph.Graph, error) {
	loaded, err := c.LoadProfile(path)
	if err != nil {
		return nil, nil, err
	}
	g, err := plan.Build(loaded.Profile)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Hooks.Compiled != nil {
		c.Hooks.Compiled(loaded, g)
	}
	return loaded, g, nil
}

// CountDiags says how many errors and warnings diags holds.
func CountDiags(diags hcl.Diagnostics) string {
	errs, warns := 0, 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return fmt.Sprintf("%d error(s), %d warning(s)", errs, warns)
}

// loadBounded is plan.Load within a time bound (LoadTimeout when timeout
// is 0), with a panic while loading turned into an error.
func loadBounded(path string, opts plan.Options, timeout time.Duration) (*plan.Loaded, hcl.Diagnostics, error) {
	type result struct {
		loaded *plan.Loaded
		diags  hcl.Diagnostics
		panic  any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p}
			}
		}()
		loaded, diags := plan.Load(path, opts)
		done <- result{loaded: loaded, diags: diags}
	}()
	if timeout <= 0 {
		timeout = LoadTimeout
	}
	select {
	case r := <-done:
		if r.panic != nil {
			return nil, nil, &PanicError{Value: r.panic, Where: "loading " + path}
		}
		return r.loaded, r.diags, nil
	case <-time.After(timeout):
		// The evaluation goes on in its goroutine until nodeup exits,
		// which it does now.
		return nil, nil, fmt.Errorf("%s: evaluating the profile takes longer than %v; it computes something far too large (a huge number or text). Simplify its expressions", path, timeout)
	}
}

// PanicError is a panic turned into an error: a bug in nodeup, said as one.
type PanicError struct {
	Value any
	Where string
	Stack []byte
}

func (e *PanicError) Error() string {
	msg := fmt.Sprintf("internal error while %s: %v; this is a bug in nodeup, please report it with the command line", e.Where, e.Value)
	if len(e.Stack) > 0 {
		msg += "\n" + string(e.Stack)
	}
	return msg
}
