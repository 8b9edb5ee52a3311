package cli

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/ops"
	"github.com/nodeup/nodeup/plan"
)

// planView is a plan: each step that changes, with its diff, and a
// summary whose failures count what apply would refuse.
type planView struct {
	steps    []stepView
	verbose  bool
	refusals []string
	// saved is the file the plan was saved to (plan --out).
	saved string
}

func (v planView) human(inv *invocation) {
	inv.printer().plan(v.steps, v.verbose, len(v.refusals))
	if v.saved != "" {
		fmt.Fprintf(inv.out, "Saved this plan to %s: nodeup apply %s applies exactly it, or refuses if the node or an input changed.\n", printable(v.saved), printable(v.saved))
	}
}

func (v planView) counts() counts {
	c := count(v.steps)
	c.failed += len(v.refusals)
	return c
}

func (v planView) document() any {
	c := v.counts()
	doc := map[string]any{"steps": v.steps, "summary": c.json(), "changes": c.changes() > 0}
	if v.saved != "" {
		doc["saved_plan"] = v.saved
	}
	return doc
}

func (v planView) ok() bool { return v.counts().failed == 0 }

// err is how the plan ends: an error when apply would refuse it or a step
// could not be checked, exit 2 for changes with --detailed-exitcode.
func (v planView) err(detailedExitcode bool) error {
	if len(v.refusals) > 0 {
		return fmt.Errorf("plan: apply would refuse this plan: %s", firstLine(v.refusals[0]))
	}
	c := count(v.steps)
	if c.failed > 0 {
		return fmt.Errorf("plan: %d step(s) could not be checked: %s; their errors are above", c.failed, failedIDs(v.steps))
	}
	if detailedExitcode && c.changes() > 0 {
		return exitError{code: 2}
	}
	return nil
}

// liveView shows an apply while it runs: the plan before anything changes,
// then each step that changed or failed as it finishes (log records beside
// a JSON document).
type liveView struct {
	inv     *invocation
	verbose bool
	out     printer
	plan    map[string]engine.Result
}

func (inv *invocation) liveApply(verbose bool) *liveView {
	return &liveView{inv: inv, verbose: verbose, out: inv.printer()}
}

func (l *liveView) planned(results []engine.Result) {
	l.plan = map[string]engine.Result{}
	for _, r := range results {
		l.plan[r.ID] = r
	}
	if !l.inv.g.json {
		l.out.plan(l.inv.views(results, nil), l.verbose, 0)
		fmt.Fprintln(l.inv.out)
	}
}

func (l *liveView) finished(r engine.Result) {
	v := l.inv.view(r, l.plan)
	if !changed(v) && v.Result == resultOK {
		return
	}
	line := l.out.stepLine(v, true)
	if v.Result != resultOK {
		line = l.out.failure(v)
	}
	if l.inv.g.json {
		l.inv.log.Info(line, "step", v.ID, "action", v.Action, "result", v.Result, "seconds", v.Seconds)
		return
	}
	l.out.line(line)
}

// applyView is how an apply ended: the steps that did not run, the
// verification, the summary, any rollback, and the profile kept for the
// boot.
type applyView struct {
	r     *ops.ApplyReport
	steps []stepView
	// plan is the saved plan applied (apply FILE).
	plan string
}

func (v applyView) human(inv *invocation) {
	out := inv.printer()
	// Steps that never ran did not finish either: named here.
	for _, s := range v.steps {
		if s.Result == resultNotRun {
			out.line(out.failure(s))
		}
	}
	if v.r.Verify != nil {
		fmt.Fprintln(inv.out, "\nVerification:")
		inv.table(v.r.Verify.Table)
	}
	c := count(v.steps)
	fmt.Fprintf(inv.out, "Apply: %d created, %d updated, %d deleted, %d unchanged, %d skipped, %d failed in %s.\n",
		c.create, c.update, c.delete, c.noop, c.skip, c.failed, v.r.Elapsed.Round(time.Millisecond))
	printRollback(inv, v.r.Rollback)
	for _, n := range v.notes() {
		fmt.Fprintln(inv.out, n)
	}
}

func (v applyView) document() any {
	c := count(v.steps)
	doc := map[string]any{"steps": v.steps, "summary": c.json(), "seconds": v.r.Elapsed.Seconds()}
	if v.r.Verify != nil {
		doc["verify"] = v.r.Verify
	}
	if len(v.r.Rollback) > 0 {
		doc["rollback"] = v.r.Rollback
	}
	if v.plan != "" {
		doc["saved_plan"] = v.plan
	}
	return doc
}

func (v applyView) ok() bool {
	return count(v.steps).failed == 0 && v.r.SaveErr == nil && len(v.r.Rollback) == 0
}

// notes says where the profile was kept for the boot.
func (v applyView) notes() []string {
	if v.r.KeptProfile == "" || !v.ok() {
		return nil
	}
	given := ""
	if v.r.KeptValues {
		given = ", with the values given now in " + path.Join(v.r.KeptProfile, plan.GivenVarsFile)
	}
	return []string{fmt.Sprintf("Profile kept in %s%s: nodeup apply %s --phase boot applies it at boot.", v.r.KeptProfile, given, v.r.KeptProfile)}
}

// err is how the apply ends: the state not saved, a rollback, or a step
// that failed.
func (v applyView) err() error {
	if v.r.SaveErr != nil {
		return v.r.SaveErr
	}
	if len(v.r.Rollback) > 0 {
		return rollbackError(v.r.Rollback)
	}
	if c := count(v.steps); c.failed > 0 {
		return fmt.Errorf("apply: %d step(s) failed or did not run: %s; fix the first error above and run nodeup apply again", c.failed, failedIDs(v.steps))
	}
	return nil
}

// printRollback shows what each rollback did.
func printRollback(inv *invocation, rolled []engine.RolledBack) {
	w := inv.out
	for _, r := range rolled {
		fmt.Fprintf(w, "\nRollback: %s did not come up verified after this apply changed %s:\n", r.Unit, strings.Join(r.Changed, ", "))
		// The failure itself, with the unit's journal, is shown above.
		fmt.Fprintf(w, "    %s\n", firstLine(r.Cause))
		for _, a := range r.Artifacts {
			fmt.Fprintf(w, "  %s: back from %s to %s\n", a.Step, a.From, a.To)
		}
		for _, p := range r.Restored {
			fmt.Fprintf(w, "  put back %s\n", p)
		}
		if r.Verify != nil {
			fmt.Fprintf(w, "Verification after the rollback:\n")
			_ = r.Verify.Table(w)
		}
		fmt.Fprintf(w, "%s.\n", upperFirst(r.Summary()))
	}
}

// rollbackError is the error of an apply that was rolled back.
func rollbackError(rolled []engine.RolledBack) error {
	var parts []string
	for _, r := range rolled {
		parts = append(parts, fmt.Sprintf("%s failed after this apply changed it (%s); %s", r.Unit, firstLine(r.Cause), r.Summary()))
	}
	return errors.New(strings.Join(parts, "\n"))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
