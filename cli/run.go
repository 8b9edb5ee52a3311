package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nodeup/nodeup/ops"
)

type planOptions struct {
	detailedExitcode bool
	verbose          bool
	wait             bool
	allowDowngrade   bool
	metricsFile      string
	// out: plan --out, where the plan is saved.
	out string
	// rootSet, phaseSet: apply's --root and --phase were given, not left
	// to a saved plan.
	rootSet, phaseSet bool
}

// runPlan checks every step of the profile and shows what apply would
// change; with --metrics-file it also writes the drift, even when the plan
// could not run.
func (inv *invocation) runPlan(path string, o planOptions) error {
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	if sp, _ := ops.ReadSavedPlan(path); sp != nil {
		return fmt.Errorf("%s is a saved plan, not a profile: nodeup apply %s applies it", path, path)
	}
	at := time.Now()
	r, err := ops.Plan(ctx, cfg, ops.PlanOptions{Path: path, AllowDowngrade: o.allowDowngrade, Drift: o.metricsFile != "",
		Out: o.out, NodeupVersion: nodeupVersion()})
	if err == nil {
		v := planView{steps: inv.views(r.Results, nil), verbose: o.verbose, refusals: r.Refusals, saved: r.Saved}
		if err = inv.show(v); err == nil {
			err = v.err(o.detailedExitcode)
		}
		switch {
		case r.SaveErr == nil:
		case err == nil || errors.As(err, new(exitError)):
			err = r.SaveErr
		default:
			err = fmt.Errorf("%w; %v", err, r.SaveErr)
		}
	}
	if o.metricsFile != "" {
		if werr := ops.WriteDriftMetrics(cfg, o.metricsFile, r, at); werr != nil {
			return werr
		}
	}
	return err
}

// runApply converges the node, showing the plan first and each step as it
// finishes, then the summary.
func (inv *invocation) runApply(path string, o planOptions) error {
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	live := inv.liveApply(o.verbose)
	cfg.Hooks.Planned, cfg.Hooks.Finished = live.planned, live.finished
	ctx, cancel := signalContext()
	defer cancel()
	sp, err := ops.ReadSavedPlan(path)
	if err != nil {
		return err
	}
	var r *ops.ApplyReport
	if sp != nil {
		// The plan says where and how it applies; a flag given says so too.
		if !o.rootSet {
			cfg.Root = sp.Root
		}
		if !o.phaseSet {
			cfg.Phase = sp.Phase
		}
		r, err = ops.ApplySaved(ctx, cfg, ops.ApplySavedOptions{Plan: sp, Wait: o.wait, NodeupVersion: nodeupVersion()})
	} else {
		r, err = ops.Apply(ctx, cfg, ops.ApplyOptions{Path: path, Wait: o.wait, AllowDowngrade: o.allowDowngrade})
	}
	if err != nil {
		return err
	}
	v := applyView{r: r, steps: inv.views(r.Results, r.Planned)}
	if sp != nil {
		v.plan = path
	}
	if err := inv.show(v); err != nil {
		return err
	}
	return v.err()
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
