// Package graph holds a node's step graph: step IDs, dependency edges,
// validation (duplicates, missing steps, cycles), its text and dot forms, and
// the parallel walk. It knows nothing of what a step does.
package graph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Action is what a step does. The graph needs only its identity and a
// one-line description; what the step does to a node is the steps
// package's business.
type Action interface {
	// Kind is the step kind, the prefix of its ID.
	Kind() string
	// Key is the rest of the step's ID, unique within its kind.
	Key() string
	// Describe is a one-line summary for the graph's text form.
	Describe() string
}

// ID is the stable identifier of an action: "kind:key".
func ID(a Action) string { return a.Kind() + ":" + a.Key() }

// Step is one vertex of the graph: an action, what it waits for, and the
// part of the profile it came from.
type Step struct {
	ID     string
	Deps   []string // IDs, sorted
	Range  hcl.Range
	Action Action
}

// Graph is a set of steps and their dependencies. Its text forms are
// sorted, so a change in the graph shows up as a readable diff.
type Graph struct {
	steps map[string]*Step
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{steps: map[string]*Step{}} }

// Add puts an action into the graph. Adding a second action with the same
// ID is a bug in the builder and is reported by Validate.
func (g *Graph) Add(a Action, from hcl.Range, deps ...string) *Step {
	id := ID(a)
	if prev, ok := g.steps[id]; ok {
		prev.Deps = append(prev.Deps, "!duplicate:"+id)
		return prev
	}
	s := &Step{ID: id, Range: from, Action: a}
	g.steps[id] = s
	s.After(deps...)
	return s
}

// After adds dependencies to a step, keeping them sorted and unique.
func (s *Step) After(deps ...string) {
	set := map[string]bool{}
	for _, d := range s.Deps {
		set[d] = true
	}
	for _, d := range deps {
		if d != "" && d != s.ID {
			set[d] = true
		}
	}
	s.Deps = s.Deps[:0]
	for d := range set {
		s.Deps = append(s.Deps, d)
	}
	sort.Strings(s.Deps)
}

// Step returns the step with an ID, or nil.
func (g *Graph) Step(id string) *Step { return g.steps[id] }

// Has reports whether the graph holds a step.
func (g *Graph) Has(id string) bool { return g.steps[id] != nil }

// Len is the number of steps.
func (g *Graph) Len() int { return len(g.steps) }

// IDs lists the step IDs in sorted order.
func (g *Graph) IDs() []string {
	ids := make([]string, 0, len(g.steps))
	for id := range g.steps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Validate reports dependencies on missing steps, duplicate steps and
// cycles, deterministically.
func (g *Graph) Validate() error {
	var problems []string
	for _, id := range g.IDs() {
		for _, d := range g.steps[id].Deps {
			if dup, ok := strings.CutPrefix(d, "!duplicate:"); ok {
				problems = append(problems, fmt.Sprintf("step %s is added twice", dup))
			} else if !g.Has(d) {
				problems = append(problems, fmt.Sprintf("step %s depends on %s, which is not in the graph", id, d))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid step graph: %s", strings.Join(problems, "; "))
	}
	if cycle := g.findCycle(); cycle != nil {
		return fmt.Errorf("invalid step graph: cycle %s", strings.Join(cycle, " -> "))
	}
	return nil
}

// findCycle returns one cycle as a path of IDs, or nil. Visiting IDs and
// dependencies in sorted order makes the answer the same on every run.
func (g *Graph) findCycle() []string {
	const (
		unseen = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(id string) []string
	visit = func(id string) []string {
		state[id] = onStack
		stack = append(stack, id)
		for _, d := range g.steps[id].Deps {
			switch state[d] {
			case onStack:
				for i, s := range stack {
					if s == d {
						return append(append([]string{}, stack[i:]...), d)
					}
				}
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = done
		return nil
	}
	for _, id := range g.IDs() {
		if state[id] == unseen {
			if c := visit(id); c != nil {
				return c
			}
		}
	}
	return nil
}

// Order returns the steps in a deterministic topological order: of the
// steps whose dependencies are done, the one with the smallest ID first.
// It assumes Validate passed.
func (g *Graph) Order() []*Step {
	indeg := map[string]int{}
	dependents := map[string][]string{}
	for id, s := range g.steps {
		indeg[id] += 0
		for _, d := range s.Deps {
			indeg[id]++
			dependents[d] = append(dependents[d], id)
		}
	}
	var ready []string
	for id, n := range indeg {
		if n == 0 {
			ready = append(ready, id)
		}
	}
	var out []*Step
	for len(ready) > 0 {
		sort.Strings(ready)
		id := ready[0]
		ready = ready[1:]
		out = append(out, g.steps[id])
		for _, dep := range dependents[id] {
			indeg[dep]--
			if indeg[dep] == 0 {
				ready = append(ready, dep)
			}
		}
	}
	return out
}

// Text is the graph's readable form: steps in order, each with what it
// does, what it waits for and where it came from.
func (g *Graph) Text() string {
	var b strings.Builder
	for _, s := range g.Order() {
		fmt.Fprintf(&b, "%s\n  %s\n", s.ID, s.Action.Describe())
		if len(s.Deps) > 0 {
			fmt.Fprintf(&b, "  after: %s\n", strings.Join(s.Deps, ", "))
		}
		if s.Range.Filename != "" {
			fmt.Fprintf(&b, "  from: %s:%d\n", s.Range.Filename, s.Range.Start.Line)
		}
	}
	return b.String()
}

// Dot is the graph in Graphviz form, edges from a dependency to its
// dependent.
func (g *Graph) Dot() string {
	var b strings.Builder
	b.WriteString("digraph nodeup {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, id := range g.IDs() {
		fmt.Fprintf(&b, "  %q;\n", id)
	}
	for _, id := range g.IDs() {
		for _, d := range g.steps[id].Deps {
			fmt.Fprintf(&b, "  %q -> %q;\n", d, id)
		}
	}
	b.WriteString("}\n")
	return b.String()
}
