package cli

import (
	"sort"
	"strings"
	"sync"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
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
	// ids maps the step IDs that hold a secret to how they are shown.
	ids      map[string]string
	idsOrder []string // keys of ids, longest first
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
		for _, form := range plan.Spellings(v) {
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

// guard replaces the long spellings: the last guard on every stream.
func (s *secrets) guard(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.unguarded {
		return text
	}
	return redact(s.redactIDs(text), s.guards)
}

// scrub replaces every spelling, however short: for text known to come
// from a step that handles a secret, where a short value may sit.
func (s *secrets) scrub(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return redact(s.redactIDs(text), s.all)
}

// redactIDs shows each step ID that holds a secret as plan.RedactID
// does, however short the secret; the caller holds s.mu.
func (s *secrets) redactIDs(text string) string {
	for _, id := range s.idsOrder {
		text = strings.ReplaceAll(text, id, s.ids[id])
	}
	return text
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

// markSteps finds the steps of g that depend on a sensitive value and the
// step IDs that hold one (plan.SensitiveSteps).
func (s *secrets) markSteps(p *profile.Profile, g *graph.Graph) {
	depends, shown := plan.SensitiveSteps(p, g)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.steps == nil {
		s.steps = map[string]bool{}
		s.ids = map[string]string{}
	}
	for id := range depends {
		s.steps[id] = true
	}
	for id, to := range shown {
		if _, ok := s.ids[id]; !ok {
			s.ids[id] = to
			s.idsOrder = append(s.idsOrder, id)
		}
	}
	longestFirst(s.idsOrder)
}
