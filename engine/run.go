// Package engine runs a node's step graph: it takes the node's lock, reads
// nodeup's state and sweeps what a killed run left (Begin), then walks the
// graph, checking every step and, in an apply, converging it (Run). What a
// step does is the steps package's business; the engine knows only the
// Step interface.
package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/steps"
)

// Result is what happened to one step.
type Result struct {
	ID           string        `json:"id"`
	steps.Change               // outcome, reason, diff
	Err          error         `json:"-"`
	Error        string        `json:"error,omitempty"`
	From         hcl.Range     `json:"-"`
	Source       string        `json:"source,omitempty"` // file:line of the profile
	Duration     time.Duration `json:"-"`
}

// walk is the Run the steps of one walk see.
type walk struct {
	g        *graph.Graph
	mu       sync.Mutex
	results  map[string]*Result
	finished map[string]time.Time
}

func (w *walk) Changed(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.results[id]
	return r != nil && r.Err == nil && r.Changed()
}

func (w *walk) Deleted(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.results[id]
	return r != nil && r.Err == nil && r.Action == steps.Delete
}

func (w *walk) Finished(id string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.finished[id]
	return at, ok
}

func (w *walk) Writes(id string) []string {
	if s, ok := stepOf(w.g, id); ok {
		return s.Writes()
	}
	return nil
}

// stepOf is the Step of a graph vertex.
func stepOf(g *graph.Graph, id string) (steps.Step, bool) {
	v := g.Step(id)
	if v == nil {
		return nil, false
	}
	s, ok := v.Action.(steps.Step)
	return s, ok
}

// Options say how Run walks.
type Options struct {
	// Apply converges the node; without it, Run is the plan.
	Apply bool
	// Parallelism bounds the steps that run at once.
	Parallelism int
	// Checkpoint, when set, is called after steps that changed the node,
	// to persist the state: a run killed later does not forget what it
	// wrote and take its own files for someone else's. Calls run one at a
	// time in the background, and one that comes while another runs is
	// folded into a single call after it: a step does not wait for the
	// disk, except one that made a restart due, which waits until a call
	// that started after it has returned. Run returns once every change
	// has been followed by a call.
	Checkpoint func()
	// Finished, when set, hears each step's result as soon as the step
	// has run, so a caller can show progress live. Calls may come from
	// several goroutines at once.
	Finished func(Result)
}

// checkpointer makes the Checkpoint calls of one walk.
type checkpointer struct {
	save      func()
	mu        sync.Mutex
	saved     *sync.Cond
	running   bool
	requested uint64 // requests so far
	covered   uint64 // requests a finished call started after
}

func newCheckpointer(save func()) *checkpointer {
	c := &checkpointer{save: save}
	c.saved = sync.NewCond(&c.mu)
	return c
}

// request asks for a call that starts from now on and returns its number.
func (c *checkpointer) request() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requested++
	if !c.running {
		c.running = true
		go c.loop()
	}
	return c.requested
}

func (c *checkpointer) loop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.covered < c.requested {
		n := c.requested
		c.mu.Unlock()
		c.save()
		c.mu.Lock()
		c.covered = n
		c.saved.Broadcast()
	}
	c.running = false
}

// wait returns once request n is covered.
func (c *checkpointer) wait(n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.covered < n {
		c.saved.Wait()
	}
}

// drain returns once every request so far is covered.
func (c *checkpointer) drain() {
	c.mu.Lock()
	n := c.requested
	c.mu.Unlock()
	c.wait(n)
}

// Run walks the graph, checking every step and, with o.Apply, converging
// it. Steps run in parallel as their dependencies finish; a failure skips
// what depends on it and lets the rest finish. Results come in graph
// order. env is not changed: the steps get a copy that knows this walk.
func Run(ctx context.Context, g *graph.Graph, env *steps.Env, o Options) []Result {
	apply := o.Apply
	w := &walk{g: g, results: map[string]*Result{}, finished: map[string]time.Time{}}
	runEnv := *env
	runEnv.Run = w
	// The units a step's change makes stale, to mark them in the state.
	restarts := map[string][]string{}
	for _, v := range g.Order() {
		if s, ok := v.Action.(steps.Starter); ok {
			service, restartOn := s.Starts()
			if service == "" {
				continue
			}
			for _, id := range restartOn {
				restarts[id] = append(restarts[id], service)
			}
		}
	}
	var ckpt *checkpointer
	if o.Checkpoint != nil {
		ckpt = newCheckpointer(o.Checkpoint)
		defer ckpt.drain()
	}
	// The walk starts every step whose dependencies are done; the slots
	// bound how many run and pick which runs first.
	prio, run := priorities(g), newSlots(o.Parallelism)
	errs := g.Walk(ctx, g.Len(), func(ctx context.Context, v *graph.Step) error {
		run.acquire(prio[v.ID])
		defer run.release()
		start := time.Now()
		ch, err := do(ctx, &runEnv, v, apply)
		end := time.Now()
		r := &Result{ID: v.ID, Change: ch, Err: err, Duration: end.Sub(start)}
		r.locate(v)
		w.mu.Lock()
		w.results[v.ID] = r
		w.finished[v.ID] = end
		w.mu.Unlock()
		if o.Finished != nil {
			o.Finished(*r)
		}
		if apply && err == nil && ch.Changed() {
			// Recorded, and saved, before the unit's step can restart it:
			// a run killed before the restart leaves it due, and the next
			// run does it. (A run that starts nothing leaves the start to
			// the boot.)
			due := false
			if runEnv.StartsThings() {
				for _, unit := range restarts[v.ID] {
					runEnv.State.RestartDue(unit, v.ID)
					due = true
				}
			}
			if ckpt != nil {
				n := ckpt.request()
				if due {
					ckpt.wait(n)
				}
			}
		}
		return err
	})
	var out []Result
	for _, v := range g.Order() {
		r := w.results[v.ID]
		if r == nil {
			r = &Result{ID: v.ID, Err: errs[v.ID]}
		}
		r.locate(v)
		out = append(out, *r)
	}
	return out
}

// locate fills in where a result's step came from and its error text.
func (r *Result) locate(v *graph.Step) {
	r.From = v.Range
	if v.Range.Filename != "" {
		r.Source = fmt.Sprintf("%s:%d", v.Range.Filename, v.Range.Start.Line)
	}
	if r.Err != nil {
		r.Error = r.Err.Error()
	}
}

// do checks one vertex's step or, with apply, applies it.
func do(ctx context.Context, env *steps.Env, v *graph.Step, apply bool) (steps.Change, error) {
	s, ok := v.Action.(steps.Step)
	if !ok {
		return steps.Change{}, fmt.Errorf("%s: %T is not a step nodeup can run", v.ID, v.Action)
	}
	if apply {
		return s.Apply(ctx, env)
	}
	return s.Check(ctx, env)
}
