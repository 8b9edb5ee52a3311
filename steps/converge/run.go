package converge

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
	ID       string        `json:"id"`
	Change                 // outcome, reason, diff
	Err      error         `json:"-"`
	Error    string        `json:"error,omitempty"`
	From     hcl.Range     `json:"-"`
	Source   string        `json:"source,omitempty"` // file:line of the profile
	Duration time.Duration `json:"-"`
}

// CheckApply checks one step and, with apply, converges it.
func CheckApply(ctx context.Context, env *Env, a steps.Action, apply bool) (Change, error) {
	switch a := a.(type) {
	case *steps.Dir:
		return checkApplyDir(ctx, env, a, apply)
	case *steps.File:
		return checkApplyFile(ctx, env, a, apply)
	case *steps.Artifact:
		return checkApplyArtifact(ctx, env, a, apply)
	case *steps.Package:
		return checkApplyPackage(ctx, env, a, apply)
	case *steps.Unit:
		return checkApplyUnit(ctx, env, a, apply)
	case *steps.Module:
		return checkApplyModule(ctx, env, a, apply)
	case *steps.Sysctl:
		return checkApplySysctl(ctx, env, a, apply)
	case *steps.Verify:
		return checkApplyVerify(ctx, env, a, apply)
	}
	return Change{}, fmt.Errorf("no Check/Apply for step kind %s", a.Kind())
}

// Run walks the graph, checking every step and, with apply, converging it.
// Steps run in parallel as their dependencies finish; a failure skips what
// depends on it and lets the rest finish. Results come in graph order.
func Run(ctx context.Context, g *graph.Graph, env *Env, apply bool, parallelism int) []Result {
	var mu sync.Mutex
	results := map[string]*Result{}
	env.Changed = func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		r := results[id]
		return r != nil && r.Err == nil && r.Changed()
	}
	env.Action = func(id string) steps.Action {
		if s := g.Step(id); s != nil {
			return s.Action
		}
		return nil
	}
	// The units a step's change makes stale, to mark them in State.
	restarts := map[string][]string{}
	for _, s := range g.Order() {
		if u, ok := s.Action.(*steps.Unit); ok && u.Start {
			for _, id := range u.RestartOn {
				restarts[id] = append(restarts[id], u.Name)
			}
		}
	}
	errs := g.Walk(ctx, parallelism, func(ctx context.Context, s *graph.Step) error {
		start := time.Now()
		ch, err := CheckApply(ctx, env, s.Action, apply)
		mu.Lock()
		results[s.ID] = &Result{ID: s.ID, Change: ch, Err: err, Duration: time.Since(start)}
		mu.Unlock()
		if apply && err == nil && ch.Changed() {
			// Recorded before the checkpoint: a run killed before the
			// restart leaves it due, and the next run does it. (A run that
			// starts nothing leaves the start to the boot.)
			for _, unit := range restarts[s.ID] {
				if env.startsThings() {
					env.State.Record(restartKey(unit), s.ID)
				}
			}
			if env.Checkpoint != nil {
				env.Checkpoint()
			}
		}
		return err
	})
	var out []Result
	for _, s := range g.Order() {
		r := results[s.ID]
		if r == nil {
			r = &Result{ID: s.ID, Err: errs[s.ID]}
		}
		r.From = s.Range
		if s.Range.Filename != "" {
			r.Source = fmt.Sprintf("%s:%d", s.Range.Filename, s.Range.Start.Line)
		}
		if r.Err != nil {
			r.Error = r.Err.Error()
		}
		out = append(out, *r)
	}
	return out
}
