package cli

import (
	"bytes"
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
	at := time.Now()
	r, err := ops.Plan(ctx, cfg, ops.PlanOptions{Path: path, AllowDowngrade: o.allowDowngrade, Drift: o.metricsFile != ""})
	if err == nil {
		v := planView{steps: inv.views(r.Results, nil), verbose: o.verbose, refusals: r.Refusals}
		if err = inv.show(v); err == nil {
			err = v.err(o.detailedExitcode)
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
	r, err := ops.Apply(ctx, cfg, ops.ApplyOptions{Path: path, Wait: o.wait, AllowDowngrade: o.allowDowngrade})
	if err != nil {
		return err
	}
	v := applyView{r: r, steps: inv.views(r.Results, r.Planned)}
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
