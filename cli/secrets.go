package cli

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
)

// minGuardLen is the shortest value the stream guard replaces: a shorter
// one ("1", "true") would garble unrelated output. Shorter values are
// kept out where they enter, like every other.
const minGuardLen = 6

// sensitiveContent stands for the diff of a file that holds a secret.
const sensitiveContent = "(sensitive content)"

// secrets are the sensitive values of one run and the steps whose text
// depends on them. It is safe for concurrent use.
type secrets struct {
	mu     sync.RWMutex
	seen   map[string]bool
	all    []string        // every spelling of every value, longest first
	guards []string        // the spellings long enough for the stream guard
	steps  map[string]bool // step IDs whose text depends on a secret
	// unguarded: guard passes everything (see system.unguarded).
	unguarded bool
}

// add records values that must never be printed.
func (s *secrets) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, v := range values {
		for _, form := range spellings(v) {
			if form == "" || s.seen[form] {
				continue
			}
			s.seen[form] = true
			s.all = append(s.all, form)
			if len(form) >= minGuardLen {
				s.guards = append(s.guards, form)
			}
		}
	}
	longestFirst(s.all)
	longestFirst(s.guards)
}

// longestFirst sorts so no part of a longer spelling survives the
// replacement of a shorter one.
func longestFirst(forms []string) {
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
}

// spellings lists how a value can appear in output: as it is; as a unit
// file holds it ("%" and "$" doubled, quotes and backslashes escaped, as
// templates write an ExecStart argument); quoted as Go, JSON, TOML or YAML
// double-quoted strings escape it; and each line of a value of several
// lines, as a block scalar holds it.
func spellings(v string) []string {
	unit := templates.EscapeSpecifiers(v)
	base := []string{v, unit, templates.EscapeQuoted(unit)}
	var out []string
	for _, f := range base {
		out = append(out, f)
		quoted := strconv.Quote(f)
		out = append(out, quoted[1:len(quoted)-1])
		b, _ := json.Marshal(f) // escapes <, > and & as well
		out = append(out, string(b[1:len(b)-1]))
		var sb strings.Builder
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(f)
		j := strings.TrimSuffix(sb.String(), "\n")
		out = append(out, j[1:len(j)-1])
	}
	if strings.Contains(v, "\n") {
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

// guard replaces the long spellings: the last guard on every stream.
func (s *secrets) guard(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.unguarded {
		return text
	}
	return redact(text, s.guards)
}

// scrub replaces every spelling, however short: for text known to come
// from a step that handles a secret, where a short value may sit.
func (s *secrets) scrub(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return redact(text, s.all)
}

// redact replaces each of forms, longest first, in text.
func redact(text string, forms []string) string {
	for _, f := range forms {
		text = strings.ReplaceAll(text, f, plan.Redacted)
	}
	return text
}

// step reports whether a step's text depends on a secret.
func (s *secrets) step(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.steps[id]
}

// markSteps finds the steps of g that depend on a sensitive value: those
// that differ when the profile's secrets are replaced by placeholders.
// When the masked profile does not build, every step counts.
func (s *secrets) markSteps(p *profile.Profile, g *graph.Graph) {
	if len(p.Sensitive) == 0 {
		return
	}
	masked, err := plan.Build(plan.Masked(p))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.steps == nil {
		s.steps = map[string]bool{}
	}
	for _, id := range g.IDs() {
		if err != nil || !masked.Has(id) || !reflect.DeepEqual(g.Step(id).Action, masked.Step(id).Action) {
			s.steps[id] = true
		}
	}
}
