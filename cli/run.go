package cli

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
)

type planOptions struct {
	detailedExitcode bool
	verbose          bool
	wait             bool
}

// runGraph loads a profile, locks the node for an apply, and runs the graph.
func runGraph(s Streams, g *globalOptions, path string, apply bool, o planOptions) error {
	p, files, err := loadProfileFiles(s, g, path)
	if err != nil {
		return err
	}
	s = redacted(serialized(s), p.Sensitive)
	if d := plan.CheckTarget(p); d.HasErrors() {
		printDiagnostics(s.Err, files, d, !g.noColor && terminal(s.Err))
		return errReported
	}
	if err := checkHost(s, g, p, files); err != nil {
		return err
	}
	graph, err := plan.Build(p)
	if err != nil {
		return err
	}
	if apply {
		if err := canVerify(g, path); err != nil {
			return err
		}
	}
	ctx, cancel := signalContext()
	defer cancel()
	env, cleanup, err := newEnv(ctx, s, g)
	if err != nil {
		return err
	}
	defer cleanup()
	h := env.Host
	if apply {
		release, err := engine.Begin(ctx, graph, env, o.wait)
		if err != nil {
			return err
		}
		defer release()
	}
	var report *cri.Report
	env.Verified = func(r cri.Report) { report = &r }
	// A failed save here fails the final save below, which reports it.
	checkpoint := func() { _ = env.State.Save(h) }

	start := time.Now()
	planned := engine.Run(ctx, graph, env, engine.Options{Parallelism: g.parallelism})
	if !apply {
		c := count(planned)
		if g.json {
			if err := writeJSON(s.Out, map[string]any{"steps": planned, "summary": summary(c)}); err != nil {
				return err
			}
		} else {
			printPlan(s.Out, planned, o.verbose)
		}
		if c.failed > 0 {
			return errReported
		}
		if o.detailedExitcode && c.changes() > 0 {
			return exitError{code: 2}
		}
		return nil
	}
	if !g.json {
		printPlan(s.Out, planned, o.verbose)
		fmt.Fprintln(s.Out)
	}
	results := engine.Run(ctx, graph, env, engine.Options{Apply: true, Parallelism: g.parallelism, Checkpoint: checkpoint})
	saveErr := env.State.Save(h)
	elapsed := time.Since(start)
	c := count(results)
	if g.json {
		out := map[string]any{"steps": results, "summary": summary(c), "seconds": elapsed.Seconds()}
		if report != nil {
			out["verify"] = report
		}
		if err := writeJSON(s.Out, out); err != nil {
			return err
		}
	} else {
		printApply(s.Out, results, report, elapsed)
	}
	if saveErr != nil {
		return saveErr
	}
	if c.failed > 0 {
		return errReported
	}
	return nil
}

// canVerify refuses an apply that should start and verify the node where
// systemd is not running (a chroot, a container, --root): only --phase
// bake may leave that to the boot, and an unverified success would say
// the node works when nothing checked it.
func canVerify(g *globalOptions, path string) error {
	phase, err := parsePhase(g.phase)
	if err != nil {
		return err
	}
	if phase == steps.PhaseBake || systemd.Running(g.root) {
		return nil
	}
	where := "here"
	if g.root != "/" {
		where = "under --root " + g.root
	}
	return fmt.Errorf("%s: systemd is not running %s, so nodeup can neither start containerd nor verify it; use --phase bake to install and enable everything for the next boot, then nodeup apply --phase boot on the booted node", path, where)
}

// checkHost reports what the profile meets on this host (CheckHost). Only
// when the root is "/" is the running kernel the node's; under --root it is
// the image builder's, so nothing is checked.
func checkHost(s Streams, g *globalOptions, p *profile.Profile, files map[string]*hcl.File) error {
	if g.root != "/" {
		return nil
	}
	h, err := host.New("/")
	if err != nil {
		return err
	}
	f := facts.Gather(h, true)
	diags := plan.CheckHost(p, plan.HostFacts{KVM: f.KVM, CgroupV1: f.Cgroup.Version == "v1",
		Controllers: f.Cgroup.Controllers, Preflight: &f.Preflight, Module: kernel.Local().Module})
	if len(diags) > 0 {
		printDiagnostics(s.Err, files, diags, !g.noColor && terminal(s.Err))
	}
	if diags.HasErrors() {
		return errReported
	}
	return nil
}
