package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/steps"
)

// Results of a step in JSON and in the summary.
const (
	resultOK     = "ok"      // checked (plan) or converged (apply)
	resultFailed = "failed"  // the step's own error
	resultNotRun = "not-run" // a step it depends on failed
)

// stepView is a step's result as nodeup shows it, text or JSON: secrets
// kept out, untrusted text made printable.
type stepView struct {
	ID        string  `json:"id"`
	Action    string  `json:"action"` // create | update | delete | no-op | skip | unknown
	Result    string  `json:"result"` // ok | failed | not-run
	Reason    string  `json:"reason,omitempty"`
	Diff      string  `json:"diff,omitempty"`
	Sensitive bool    `json:"sensitive,omitempty"`
	Error     string  `json:"error,omitempty"`
	Cause     string  `json:"cause,omitempty"` // not-run: the failed step upstream
	Source    string  `json:"source,omitempty"`
	Seconds   float64 `json:"duration_seconds"`
}

// view turns a result into what is shown. A failed step's action is what
// the plan said it would do; "unknown" when the plan could not tell.
func (inv *invocation) view(r engine.Result, planned map[string]engine.Result) stepView {
	v := stepView{ID: r.ID, Action: string(r.Action), Result: resultOK, Reason: r.Reason, Diff: r.Diff, Source: r.Source, Seconds: r.Duration.Seconds()}
	if r.Err != nil {
		v.Result, v.Error = resultFailed, r.Err.Error()
		var skipped *graph.SkippedError
		if errors.As(r.Err, &skipped) {
			v.Result, v.Cause = resultNotRun, skipped.Cause
		}
		if p, ok := planned[r.ID]; v.Action == "" && ok && p.Err == nil {
			v.Action = string(p.Action)
		}
		if v.Action == "" {
			v.Action = "unknown"
		}
	}
	if inv.secrets.step(r.ID) {
		v.Sensitive = true
		if v.Diff != "" {
			v.Diff = sensitiveContent
		}
		v.Reason, v.Error = inv.secrets.scrub(v.Reason), inv.secrets.scrub(v.Error)
	}
	return v
}

func (inv *invocation) views(results []engine.Result, planned []engine.Result) []stepView {
	byID := map[string]engine.Result{}
	for _, p := range planned {
		byID[p.ID] = p
	}
	out := make([]stepView, 0, len(results))
	for _, r := range results {
		out = append(out, inv.view(r, byID))
	}
	return out
}

// counts summarises results.
type counts struct{ create, update, delete, noop, skip, failed int }

func count(views []stepView) counts {
	var c counts
	for _, v := range views {
		switch {
		case v.Result != resultOK:
			c.failed++
		case v.Action == string(steps.Create):
			c.create++
		case v.Action == string(steps.Update):
			c.update++
		case v.Action == string(steps.Delete):
			c.delete++
		case v.Action == string(steps.Skip):
			c.skip++
		default:
			c.noop++
		}
	}
	return c
}

func (c counts) changes() int { return c.create + c.update + c.delete }

func (c counts) json() map[string]int {
	return map[string]int{"create": c.create, "update": c.update, "delete": c.delete, "unchanged": c.noop, "skipped": c.skip, "failed": c.failed}
}

func changed(v stepView) bool {
	return v.Result == resultOK && (v.Action == string(steps.Create) || v.Action == string(steps.Update) || v.Action == string(steps.Delete))
}

var marks = map[string]string{string(steps.Create): "+", string(steps.Update): "~", string(steps.Delete): "-", string(steps.NoOp): "=", string(steps.Skip): "."}

var markColors = map[string]string{"+": green, "~": yellow, "-": red, ".": cyan}

// printer writes step lines, coloured on a terminal.
type printer struct {
	w     io.Writer
	color painter
	// stamp prefixes live lines with the time when the output is a log,
	// not a terminal.
	stamp bool
}

// stepLine is "MARK ID: ACTION REASON", with the duration in an apply.
func (p printer) stepLine(v stepView, timed bool) string {
	mark := marks[v.Action]
	head := p.color.paint(markColors[mark], mark) + " " + printable(v.ID) + ": " + v.Action
	if timed {
		head += fmt.Sprintf(" (%s)", (time.Duration(v.Seconds * float64(time.Second))).Round(time.Millisecond))
	}
	if v.Reason != "" {
		head += " " + printable(v.Reason)
	}
	return head
}

// diff indents a step's diff, colouring added and removed lines.
func (p printer) diff(v stepView) {
	if v.Diff == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(v.Diff, "\n"), "\n") {
		line = printable(line)
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			line = p.color.paint(bold, line)
		case strings.HasPrefix(line, "+"):
			line = p.color.paint(green, line)
		case strings.HasPrefix(line, "-"):
			line = p.color.paint(red, line)
		case strings.HasPrefix(line, "@@"):
			line = p.color.paint(cyan, line)
		}
		fmt.Fprintf(p.w, "    %s\n", line)
	}
}

// failure names a failed step with its error and profile line; a step
// skipped because of it says so in one line.
func (p printer) failure(v stepView) string {
	if v.Result == resultNotRun {
		return fmt.Sprintf("%s %s: not run, because %s failed", p.color.paint(yellow, "!"), printable(v.ID), printable(v.Cause))
	}
	head := fmt.Sprintf("%s %s failed", p.color.paint(red, "✗"), printable(v.ID))
	if v.Source != "" {
		head += fmt.Sprintf(" (from %s)", printable(v.Source))
	}
	return head + ":\n    " + strings.ReplaceAll(printable(v.Error), "\n", "\n    ")
}

func (p printer) line(s string) {
	if p.stamp {
		s = time.Now().UTC().Format(time.RFC3339) + " " + s
	}
	fmt.Fprintln(p.w, s)
}

// plan shows each step that changes, with its diff, then a summary.
func (p printer) plan(views []stepView, verbose bool, refused int) {
	for _, v := range views {
		if v.Result != resultOK || (!changed(v) && !verbose) {
			continue
		}
		fmt.Fprintln(p.w, p.stepLine(v, false))
		p.diff(v)
	}
	for _, v := range views {
		if v.Result != resultOK {
			fmt.Fprintln(p.w, p.failure(v))
		}
	}
	c := count(views)
	c.failed += refused
	fmt.Fprintf(p.w, "Plan: %d to create, %d to update, %d to delete, %d unchanged, %d skipped, %d failed.\n", c.create, c.update, c.delete, c.noop, c.skip, c.failed)
}
