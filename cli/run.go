package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
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
	allowDowngrade   bool
	metricsFile      string
	// planned, when set, hears a plan's results (drift metrics).
	planned func(ctx context.Context, gr *graph.Graph, env *steps.Env, results []engine.Result)
}

// runGraph loads a profile and checks every step (plan) or, with apply,
// locks the node and converges it, showing each step as it finishes.
func (inv *invocation) runGraph(path string, apply bool, o planOptions) error {
	command := "plan"
	if apply {
		command = "apply"
		if err := inv.needRoot(command); err != nil {
			return err
		}
	}
	if _, err := parsePhase(inv.g.phase); err != nil {
		return err
	}
	if !apply && o.metricsFile != "" {
		return inv.planWithMetrics(path, o)
	}
	loaded, g, err := inv.loadGraph(path)
	if err != nil {
		return err
	}
	p := loaded.Profile
	if d := plan.CheckTarget(p); d.HasErrors() {
		inv.report(loaded.Files, d)
		return fmt.Errorf("%s: %s", path, d[0].Summary)
	}
	if err := inv.checkHost(p, loaded.Files); err != nil {
		return err
	}
	if apply {
		if err := inv.canVerify(path); err != nil {
			return err
		}
	}
	baked, err := inv.bakedProfile(apply, p)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	env, cleanup, err := inv.newEnv(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	h := env.Host
	if apply {
		release, err := engine.Begin(ctx, g, env, o.wait)
		if err != nil {
			return err
		}
		defer release()
	}
	if err := checkVersions(g, env, apply, o.allowDowngrade); err != nil {
		return err
	}
	var report *cri.Report
	env.Verified = func(r cri.Report) { report = &r }

	start := time.Now()
	planned := engine.Run(ctx, g, env, engine.Options{Parallelism: inv.stepsAtOnce()})
	plannedViews := inv.views(planned, nil)
	out := printer{w: inv.out, color: painter(inv.colorOut), stamp: !terminal(inv.raw.Out)}
	if !apply {
		if o.planned != nil {
			o.planned(ctx, g, env, planned)
		}
		c := count(plannedViews)
		if inv.g.json {
			if err := inv.emit(map[string]any{"steps": plannedViews, "summary": c.json(), "changes": c.changes() > 0}, c.failed == 0); err != nil {
				return err
			}
		} else {
			out.plan(plannedViews, o.verbose)
		}
		if c.failed > 0 {
			return fmt.Errorf("plan: %d step(s) could not be checked: %s; their errors are above", c.failed, failedIDs(plannedViews))
		}
		if o.detailedExitcode && c.changes() > 0 {
			return exitError{code: 2}
		}
		return nil
	}
	if !inv.g.json {
		out.plan(plannedViews, o.verbose)
		fmt.Fprintln(inv.out)
	}
	byID := map[string]engine.Result{}
	for _, r := range planned {
		byID[r.ID] = r
	}
	// A failed save here fails the final save below, which reports it.
	checkpoint := func() { _ = env.State.Save(h) }
	finished := func(r engine.Result) {
		v := inv.view(r, byID)
		if !changed(v) && v.Result == resultOK {
			return
		}
		line := out.stepLine(v, true)
		if v.Result != resultOK {
			line = out.failure(v)
		}
		if inv.g.json {
			inv.log.Info(line, "step", v.ID, "action", v.Action, "result", v.Result, "seconds", v.Seconds)
			return
		}
		out.line(line)
	}
	rb, err := engine.PrepareRollback(ctx, g, env, planned)
	if err != nil {
		return err
	}
	results := engine.Run(ctx, g, env, engine.Options{Apply: true, Parallelism: inv.stepsAtOnce(), Checkpoint: checkpoint, Finished: finished})
	rolled := rb.Finish(ctx, results)
	saveErr := env.State.Save(h)
	elapsed := time.Since(start)
	views := inv.views(results, planned)
	c := count(views)
	if inv.g.json {
		doc := map[string]any{"steps": views, "summary": c.json(), "seconds": elapsed.Seconds()}
		if report != nil {
			doc["verify"] = report
		}
		if len(rolled) > 0 {
			doc["rollback"] = rolled
		}
		if err := inv.emit(doc, c.failed == 0 && saveErr == nil && len(rolled) == 0); err != nil {
			return err
		}
	} else {
		// Steps that never ran did not finish either: named here.
		for _, v := range views {
			if v.Result == resultNotRun {
				out.line(out.failure(v))
			}
		}
		if report != nil {
			fmt.Fprintln(inv.out, "\nVerification:")
			inv.table(report.Table)
		}
		fmt.Fprintf(inv.out, "Apply: %d created, %d updated, %d unchanged, %d skipped, %d failed in %s.\n",
			c.create, c.update, c.noop, c.skip, c.failed, elapsed.Round(time.Millisecond))
		printRollback(inv.out, rolled)
	}
	recordApply(env, c, report, rolled)
	if saveErr != nil {
		return saveErr
	}
	if len(rolled) > 0 {
		return rollbackError(rolled)
	}
	if c.failed > 0 {
		return fmt.Errorf("apply: %d step(s) failed or did not run: %s; fix the first error above and run nodeup apply again", c.failed, failedIDs(views))
	}
	return inv.keepProfile(env, baked)
}

// failedIDs names the steps that failed, those that did not run after
// them last, at most a handful.
func failedIDs(views []stepView) string {
	var failed, notRun []string
	for _, v := range views {
		switch v.Result {
		case resultFailed:
			failed = append(failed, v.ID)
		case resultNotRun:
			notRun = append(notRun, v.ID)
		}
	}
	ids := append(failed, notRun...)
	if len(ids) > 5 {
		ids = append(ids[:5], fmt.Sprintf("and %d more", len(ids)-5))
	}
	return printable(strings.Join(ids, ", "))
}

// table prints a table whose cells hold text from the node (a runtime's
// version, a distribution's name), made printable.
func (inv *invocation) table(write func(w io.Writer) error) {
	var buf bytes.Buffer
	_ = write(&buf)
	fmt.Fprint(inv.out, printable(buf.String()))
}

// canVerify refuses an apply that should start and verify the node where
// systemd is not running (a chroot, a container, --root): only --phase
// bake may leave that to the boot, and an unverified success would say
// the node works when nothing checked it.
func (inv *invocation) canVerify(path string) error {
	phase, err := parsePhase(inv.g.phase)
	if err != nil {
		return err
	}
	if phase == steps.PhaseBake || systemd.Running(inv.g.root) {
		return nil
	}
	where := "here"
	if inv.g.root != "/" {
		where = "under --root " + inv.g.root
	}
	return fmt.Errorf("%s: systemd is not running %s, so nodeup can neither start containerd nor verify it; use --phase bake to install and enable everything for the next boot, then nodeup apply --phase boot on the booted node", path, where)
}

// checkHost reports what the profile meets on this host (CheckHost). Only
// when the root is "/" is the running kernel the node's; under --root it is
// the image builder's, so nothing is checked. It reads only the facts it
// checks: running containerd and runc for their versions (nodeup facts)
// would cost every plan and apply a tenth of a second.
func (inv *invocation) checkHost(p *profile.Profile, files map[string]*hcl.File) error {
	if inv.g.root != "/" {
		return nil
	}
	h, err := host.New("/")
	if err != nil {
		return err
	}
	cg := facts.ReadCgroup(h)
	pre := facts.GatherPreflight(h, true)
	diags := plan.CheckHost(p, plan.HostFacts{KVM: facts.HasKVM(h), CgroupV1: cg.Version == "v1",
		Controllers: cg.Controllers, Preflight: &pre, Module: kernel.Local().Module})
	inv.report(files, diags)
	if diags.HasErrors() {
		return fmt.Errorf("the profile does not fit this host: %s", countDiags(diags))
	}
	return nil
}
