package cli

import (
	"fmt"
	"strings"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
)

// validateView is whether a profile is valid: like terraform validate
// -json, valid, the error and warning counts and the diagnostics.
type validateView struct {
	path  string
	valid bool
	steps int // of the graph, when valid
	diags []diagnostic
}

func (v validateView) human(inv *invocation) {
	if v.valid {
		fmt.Fprintf(inv.out, "%s: valid, %d steps\n", printable(v.path), v.steps)
	}
}

func (v validateView) document() any {
	errs, warns := 0, 0
	for _, d := range v.diags {
		if d.Severity == "error" {
			errs++
		} else {
			warns++
		}
	}
	doc := map[string]any{"valid": v.valid, "error_count": errs, "warning_count": warns}
	if v.valid {
		doc["steps"] = v.steps
	}
	return doc
}

func (v validateView) ok() bool { return v.valid }

// graphView is a profile's step graph: each step with what it does, the
// steps it runs after and where it comes from; or Graphviz's dot.
type graphView struct {
	g     *graph.Graph
	steps []graphStep
	dot   bool
}

type graphStep struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Description string   `json:"description"`
	After       []string `json:"after"`
	Source      string   `json:"source,omitempty"`
	Sensitive   bool     `json:"sensitive,omitempty"`
}

func (v graphView) human(inv *invocation) {
	if v.dot {
		fmt.Fprint(inv.out, printable(v.g.Dot()))
		return
	}
	var b strings.Builder
	for _, s := range v.steps {
		fmt.Fprintf(&b, "%s\n  %s\n", s.ID, s.Description)
		if len(s.After) > 0 {
			fmt.Fprintf(&b, "  after: %s\n", strings.Join(s.After, ", "))
		}
		if s.Source != "" {
			fmt.Fprintf(&b, "  from: %s\n", s.Source)
		}
	}
	fmt.Fprint(inv.out, printable(b.String()))
}

func (v graphView) document() any { return map[string]any{"steps": v.steps} }

func (v graphView) ok() bool { return true }

// graphSteps lists the graph in order, steps that handle a secret
// described as (sensitive).
func (inv *invocation) graphSteps(g *graph.Graph) []graphStep {
	var out []graphStep
	for _, s := range g.Order() {
		gs := graphStep{ID: s.ID, Kind: s.Action.Kind(), Description: s.Action.Describe(), After: append([]string{}, s.Deps...)}
		if s.Range.Filename != "" {
			gs.Source = fmt.Sprintf("%s:%d", s.Range.Filename, s.Range.Start.Line)
		}
		if inv.secrets.step(s.ID) {
			gs.Sensitive = true
			gs.Description = plan.Redacted
		}
		out = append(out, gs)
	}
	return out
}
