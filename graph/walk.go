package graph

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// SkippedError is the result of a step that did not run because a step it
// depends on failed or was itself skipped. It names the first failed step
// upstream without repeating that step's error.
type SkippedError struct{ Cause string }

func (e *SkippedError) Error() string { return "not run: " + e.Cause + " failed" }

// Walk runs fn for every step once all its dependencies have finished
// without error, at most parallelism at a time. A failure stops what
// depends on it and lets everything else finish. The result maps each step
// ID to its error (nil on success). Walk assumes Validate passed.
func (g *Graph) Walk(ctx context.Context, parallelism int, fn func(context.Context, *Step) error) map[string]error {
	if parallelism < 1 {
		parallelism = 1
	}
	var (
		mu         sync.Mutex
		results    = make(map[string]error, len(g.steps))
		remaining  = map[string]int{}
		dependents = map[string][]string{}
		wg         sync.WaitGroup
		sem        = make(chan struct{}, parallelism)
	)
	for id, s := range g.steps {
		remaining[id] = len(s.Deps)
		for _, d := range s.Deps {
			dependents[d] = append(dependents[d], id)
		}
	}

	var start func(id string)
	// finish records a result and starts or skips the dependents whose
	// last dependency this was. Callers hold mu.
	var finish func(id string, err error)
	finish = func(id string, err error) {
		results[id] = err
		for _, dep := range dependents[id] {
			remaining[dep]--
			if remaining[dep] > 0 {
				continue
			}
			if cause := g.failedDep(dep, results); cause != "" {
				finish(dep, &SkippedError{Cause: cause})
				continue
			}
			start(dep)
		}
	}
	start = func(id string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			var err error
			if ctx.Err() != nil {
				err = fmt.Errorf("not run: %w", ctx.Err())
			} else {
				err = run(ctx, g.steps[id], fn)
			}
			<-sem
			mu.Lock()
			finish(id, err)
			mu.Unlock()
		}()
	}

	mu.Lock()
	for _, id := range g.IDs() {
		if remaining[id] == 0 {
			start(id)
		}
	}
	mu.Unlock()
	wg.Wait()
	return results
}

// run runs fn for one step; a panic in it fails that step, with the panic
// and its stack, instead of ending the whole process.
func run(ctx context.Context, s *Step, fn func(context.Context, *Step) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v; this is a bug in nodeup, please report it\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx, s)
}

// failedDep returns the first failed step upstream of id, following
// skipped dependencies to the failure that caused them, or "".
func (g *Graph) failedDep(id string, results map[string]error) string {
	for _, d := range g.steps[id].Deps {
		err := results[d]
		if err == nil {
			continue
		}
		if s, ok := err.(*SkippedError); ok {
			return s.Cause
		}
		return d
	}
	return ""
}
