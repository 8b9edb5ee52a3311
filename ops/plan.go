package ops

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
)

// PlanOptions are what plan is asked.
type PlanOptions struct {
	Path           string
	AllowDowngrade bool
	// Drift also asks the runtime over CRI, as apply's last step does,
	// for the drift metrics.
	Drift bool
	// Out, when set, is where the plan is saved for nodeup apply FILE
	// (savedplan.go), made by nodeup NodeupVersion.
	Out           string
	NodeupVersion string
}

// PlanReport is what a plan found: every step's check.
type PlanReport struct {
	Loaded  *plan.Loaded
	Graph   *graph.Graph
	Results []engine.Result
	// Verified says the runtime was asked (Drift, where this run may talk
	// to it), VerifyOK that it passed.
	Verified, VerifyOK bool
	// Refusals are what apply would refuse before changing anything, with
	// the same profile, phase, root and flags: a plan that passes is one
	// apply can run. Each is also an error diagnostic.
	Refusals []string
	// Saved is the file the plan was saved to; SaveErr why it was not.
	Saved   string
	SaveErr error
}

// Plan checks every step of the profile against the node and says what
// apply would change. It writes nothing and takes no lock.
func Plan(ctx context.Context, c *Config, o PlanOptions) (*PlanReport, error) {
	pr, env, cleanup, err := c.begin(ctx, o.Path, false)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	g := pr.graph
	if err := engine.AddPrunes(g, env); err != nil {
		return nil, err
	}
	r := &PlanReport{Loaded: pr.loaded, Graph: g}
	for _, err := range c.applyRefusals(o.Path, g, env, o.AllowDowngrade) {
		r.Refusals = append(r.Refusals, err.Error())
		c.diagnostics(nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "apply would refuse this plan", Detail: err.Error()}})
	}
	r.Results = engine.Run(ctx, g, env, engine.Options{Parallelism: c.stepsAtOnce()})
	if o.Drift {
		r.Verified, r.VerifyOK = verifyForMetrics(ctx, g, env)
	}
	if o.Out != "" {
		r.SaveErr = c.savePlan(o, pr, env, r)
	}
	return r, nil
}

// applyRefusals are the refusals apply would make of this plan before it
// changed anything: where it could neither start nor verify what it
// installs (the phase and the root), and a containerd downgrade across
// config schemas without allowDowngrade.
func (c *Config) applyRefusals(path string, g *graph.Graph, env *steps.Env, allowDowngrade bool) []error {
	var out []error
	if err := c.canVerify(path); err != nil {
		out = append(out, err)
	}
	if err := checkVersions(g, env, false, allowDowngrade); err != nil {
		out = append(out, err)
	}
	return out
}

// begin prepares the profile for a plan or an apply and opens the node.
func (c *Config) begin(ctx context.Context, path string, apply bool) (*prepared, *steps.Env, func(), error) {
	pr, err := c.prepare(path, apply)
	if err != nil {
		return nil, nil, nil, err
	}
	env, cleanup, err := c.NewEnv(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return pr, env, cleanup, nil
}

// prepared is a profile compiled for one run.
type prepared struct {
	loaded *plan.Loaded
	graph  *graph.Graph
	// kept is the profile's snapshot that --phase bake keeps on the node.
	kept []plan.SnapshotFile
}

// prepare loads the profile and compiles its graph for this run: the
// target and the host must fit it, an apply must be able to verify, and
// --phase bake keeps the profile as the graph's last step.
func (c *Config) prepare(path string, apply bool) (*prepared, error) {
	loaded, g, err := c.LoadGraph(path)
	if err != nil {
		return nil, err
	}
	p := loaded.Profile
	if d := plan.CheckTarget(p); d.HasErrors() {
		c.diagnostics(loaded.Files, d)
		return nil, fmt.Errorf("%s: %s", path, d[0].Summary)
	}
	if err := c.checkHost(p, loaded.Files); err != nil {
		return nil, err
	}
	if apply {
		if err := c.canVerify(path); err != nil {
			return nil, err
		}
	}
	pr := &prepared{loaded: loaded, graph: g}
	if c.Phase == steps.PhaseBake {
		files, err := plan.Snapshot(p)
		if err != nil {
			return nil, fmt.Errorf("--phase bake keeps the profile in %s for the boot: %w", keptDir, err)
		}
		plan.KeepProfile(g, files)
		pr.kept = files
	}
	return pr, nil
}
