package cli

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
)

// loadProfile reads and validates a profile, printing every diagnostic
// with its source snippet. It fails when any diagnostic is an error.
func loadProfile(s Streams, g *globalOptions, path string) (*profile.Profile, error) {
	p, _, err := loadProfileFiles(s, g, path)
	return p, err
}

// loadTimeout bounds the evaluation of a profile: a legitimate one takes
// milliseconds, and the limits of package plan stop every known way of
// making it take longer; this is the backstop for the ones nobody found.
const loadTimeout = time.Minute

// loadProfileFiles is loadProfile that also returns the parsed files, for
// diagnostics found later (CheckHost).
func loadProfileFiles(s Streams, g *globalOptions, path string) (*profile.Profile, map[string]*hcl.File, error) {
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
		loaded, diags := plan.Load(path, plan.Options{
			Vars:     g.vars,
			VarFiles: g.varFiles,
			Environ:  g.environ,
			HostArch: cmp.Or(g.arch, runtime.GOARCH),
			FileDirs: g.allowFiles,
		})
		done <- result{loaded: loaded, diags: diags}
	}()
	timeout := g.loadTimeout
	if timeout <= 0 {
		timeout = loadTimeout
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(timeout):
		// The evaluation goes on in its goroutine until nodeup exits,
		// which it does now.
		return nil, nil, fmt.Errorf("%s: evaluating the profile takes longer than %v; it computes something far too large (a huge number or text). Simplify its expressions", path, timeout)
	}
	if r.panic != nil {
		return nil, nil, &panicError{value: r.panic, where: "loading " + path}
	}
	loaded, diags := r.loaded, r.diags
	if len(diags) > 0 {
		printDiagnostics(s.Err, loaded.Files, diags, !g.noColor && isTerminal(s.Err))
	}
	if diags.HasErrors() {
		return nil, nil, errReported
	}
	return loaded.Profile, loaded.Files, nil
}

func printDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) {
	// Errors first, then by position, so the output reads in file order.
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i], diags[j]
		if a.Severity != b.Severity {
			return a.Severity == hcl.DiagError
		}
		if a.Subject == nil || b.Subject == nil {
			return a.Subject == nil && b.Subject != nil
		}
		if a.Subject.Filename != b.Subject.Filename {
			return a.Subject.Filename < b.Subject.Filename
		}
		return a.Subject.Start.Byte < b.Subject.Start.Byte
	})
	wr := hcl.NewDiagnosticTextWriter(w, files, 100, color)
	for _, d := range diags {
		// file:line:col first, so editors and CI logs can jump to it.
		if d.Subject != nil {
			fmt.Fprintf(w, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		_ = wr.WriteDiagnostic(d)
	}
	errs, warns := 0, 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	if errs > 0 {
		fmt.Fprintf(w, "%d error(s), %d warning(s)\n", errs, warns)
	}
}

// loadGraph reads a profile and compiles its step graph.
func loadGraph(s Streams, g *globalOptions, path string) (*profile.Profile, *graph.Graph, error) {
	p, err := loadProfile(s, g, path)
	if err != nil {
		return nil, nil, err
	}
	graph, err := plan.Build(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, graph, nil
}
