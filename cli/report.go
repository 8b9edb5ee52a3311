package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/steps"
)

// counts summarises results.
type counts struct{ create, update, noop, skip, failed int }

func count(results []engine.Result) counts {
	var c counts
	for _, r := range results {
		switch {
		case r.Err != nil:
			c.failed++
		case r.Outcome == steps.Create:
			c.create++
		case r.Outcome == steps.Update:
			c.update++
		case r.Outcome == steps.Skip:
			c.skip++
		default:
			c.noop++
		}
	}
	return c
}

func (c counts) changes() int { return c.create + c.update }

var marks = map[steps.Outcome]string{steps.Create: "+", steps.Update: "~", steps.NoOp: "=", steps.Skip: "-"}

// printPlan shows each step that changes, with its diff, then a summary.
func printPlan(w io.Writer, results []engine.Result, verbose bool) {
	for _, r := range results {
		if r.Err != nil {
			continue
		}
		if !r.Changed() && !verbose {
			continue
		}
		fmt.Fprintf(w, "%s %s: %s %s\n", marks[r.Outcome], r.ID, r.Outcome, r.Reason)
		if r.Diff != "" {
			for _, line := range strings.Split(strings.TrimRight(r.Diff, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
	printFailures(w, results)
	c := count(results)
	fmt.Fprintf(w, "Plan: %d to create, %d to update, %d unchanged, %d skipped, %d failed.\n", c.create, c.update, c.noop, c.skip, c.failed)
}

// printFailures names each failed step with its error and profile line;
// steps skipped because of it say so in one line.
func printFailures(w io.Writer, results []engine.Result) {
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		var skipped *graph.SkippedError
		if errors.As(r.Err, &skipped) {
			fmt.Fprintf(w, "! %s: not run, because %s failed\n", r.ID, skipped.Cause)
			continue
		}
		fmt.Fprintf(w, "✗ %s failed", r.ID)
		if r.Source != "" {
			fmt.Fprintf(w, " (from %s)", r.Source)
		}
		fmt.Fprintf(w, ":\n    %s\n", strings.ReplaceAll(r.Err.Error(), "\n", "\n    "))
	}
}

// printApply shows what the apply changed, what failed, the verification
// and a summary line.
func printApply(w io.Writer, results []engine.Result, report *cri.Report, elapsed time.Duration) {
	for _, r := range results {
		if r.Err == nil && r.Changed() {
			fmt.Fprintf(w, "%s %s: %s (%s) %s\n", marks[r.Outcome], r.ID, r.Outcome, r.Duration.Round(time.Millisecond), r.Reason)
		}
	}
	printFailures(w, results)
	if report != nil {
		fmt.Fprintln(w, "\nVerification:")
		_ = report.Table(w)
	}
	c := count(results)
	fmt.Fprintf(w, "Apply: %d created, %d updated, %d unchanged, %d skipped, %d failed in %s.\n",
		c.create, c.update, c.noop, c.skip, c.failed, elapsed.Round(time.Millisecond))
}

func summary(c counts) map[string]int {
	return map[string]int{"create": c.create, "update": c.update, "unchanged": c.noop, "skipped": c.skip, "failed": c.failed}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
