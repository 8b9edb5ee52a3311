package ops

import (
	"context"
	"time"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// keptDir is where --phase bake keeps the profile for the boot.
const keptDir = paths.ProfileDir

// ApplyOptions are what apply is asked.
type ApplyOptions struct {
	Path           string
	Wait           bool // queue behind another nodeup holding the lock
	AllowDowngrade bool
}

// ApplyReport is what an apply did.
type ApplyReport struct {
	// Planned is the plan the apply started from; Results what it did.
	Planned, Results []engine.Result
	// Verify is the runtime's verification, when the apply verified.
	Verify *cri.Report
	// Rollback is what was taken back of units that did not come up.
	Rollback []engine.RolledBack
	Elapsed  time.Duration
	// SaveErr is a failure to record the state: the node changed, but the
	// next run cannot know what nodeup wrote.
	SaveErr error
	// KeptProfile is the node's profile directory when the apply kept the
	// profile there for the boot; KeptValues says it holds the values given.
	KeptProfile string
	KeptValues  bool
}

// Apply converges the node to the profile, then verifies it: begin (root,
// lock), version checks, plan, rollback preparation, apply, rollback of
// what did not come up, save, record.
func Apply(ctx context.Context, c *Config, o ApplyOptions) (*ApplyReport, error) {
	return c.apply(ctx, o, nil)
}

// applyGate is what an apply of a saved plan checks before it changes
// anything: the profile compiled as the plan's did, then the node's plan is
// the saved one.
type applyGate interface {
	compiled(pr *prepared) error
	planned(env *steps.Env, g *graph.Graph, planned []engine.Result) error
}

// apply is Apply, through gate when it is not nil.
func (c *Config) apply(ctx context.Context, o ApplyOptions, gate applyGate) (*ApplyReport, error) {
	if err := c.needRoot("apply"); err != nil {
		return nil, err
	}
	pr, env, cleanup, err := c.begin(ctx, o.Path, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if gate != nil {
		if err := gate.compiled(pr); err != nil {
			return nil, err
		}
	}
	g := pr.graph
	release, err := engine.Begin(ctx, g, env, o.Wait)
	if err != nil {
		return nil, err
	}
	defer release()
	// From the state read under the lock.
	if err := engine.AddPrunes(g, env); err != nil {
		return nil, err
	}
	if err := checkVersions(g, env, true, o.AllowDowngrade); err != nil {
		return nil, err
	}
	r := &ApplyReport{}
	env.Verified = func(v cri.Report) { r.Verify = &v }
	start := time.Now()
	r.Planned = engine.Run(ctx, g, env, engine.Options{Parallelism: c.stepsAtOnce()})
	if gate != nil {
		if err := gate.planned(env, g, r.Planned); err != nil {
			return nil, err
		}
	}
	if c.Hooks.Planned != nil {
		c.Hooks.Planned(r.Planned)
	}
	rb, err := engine.PrepareRollback(ctx, g, env, r.Planned)
	if err != nil {
		return nil, err
	}
	// A failed save here fails the final save below, which reports it.
	checkpoint := func() { _ = env.State.Save(env.Host) }
	r.Results = engine.Run(ctx, g, env, engine.Options{Apply: true, Parallelism: c.stepsAtOnce(), Checkpoint: checkpoint, Finished: c.Hooks.Finished})
	r.Rollback = rb.Finish(ctx, r.Results)
	r.SaveErr = env.State.Save(env.Host)
	r.Elapsed = time.Since(start)
	r.keptProfile(pr.kept)
	recordApply(env, r)
	return r, nil
}

// keptProfile notes the profile directory when its step converged.
func (r *ApplyReport) keptProfile(files []plan.SnapshotFile) {
	if files == nil {
		return
	}
	id := steps.ID(&steps.ProfileDir{Dir: keptDir})
	for _, res := range r.Results {
		if res.ID == id && res.Err == nil {
			r.KeptProfile = keptDir
		}
	}
	for _, f := range files {
		r.KeptValues = r.KeptValues || f.Rel == plan.GivenVarsFile
	}
}

// Failed counts the steps that failed or did not run.
func (r *ApplyReport) Failed() int { return failed(r.Results) }

// Changed counts the steps that changed the node.
func (r *ApplyReport) Changed() int { return changed(r.Results) }

func failed(results []engine.Result) int {
	n := 0
	for _, res := range results {
		if res.Err != nil {
			n++
		}
	}
	return n
}

func changed(results []engine.Result) int {
	n := 0
	for _, res := range results {
		if res.Err == nil && res.Changed() {
			n++
		}
	}
	return n
}

// recordApply notes when the apply ran and how it ended, for the drift
// metrics and nodeup state.
func recordApply(env *steps.Env, r *ApplyReport) {
	l := state.LastApply{Time: time.Now().UTC(), OK: r.Failed() == 0 && len(r.Rollback) == 0, Changed: r.Changed(), Failed: r.Failed(),
		Verified: r.Verify != nil && r.Verify.OK(), RolledBack: len(r.Rollback) > 0}
	if err := state.WriteLastApply(env.Host, l); err != nil {
		env.Warnf("recording the apply: %v", err)
	}
}
