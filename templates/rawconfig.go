package templates

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// OwnedKeyError says that the raw containerd config overrides a key nodeup
// derives from a typed setting of the profile. Line and Col are 1-based
// positions within the raw config text.
type OwnedKeyError struct {
	Line, Col int
	Key       string // the raw config's key, dotted as TOML writes it
	Owned     string // the owned key it overrides (Key itself, or below or above it)
	Owner     string // the typed setting, e.g. node.cgroup_driver
	Want      string // what nodeup renders at Owned, as TOML; "" when nothing
	Got       string // what the raw config writes at Key, as TOML; "" for a table header
}

func (e *OwnedKeyError) Error() string {
	switch {
	case e.Key == e.Owned && e.Want == "":
		return fmt.Sprintf("%s belongs to %s, which leaves it out in this schema on purpose; remove it from containerd.config and change %s instead", e.Key, e.Owner, e.Owner)
	case e.Key == e.Owned && e.Got != "":
		return fmt.Sprintf("%s = %s contradicts %s, from which nodeup renders %s; remove it from containerd.config and change %s instead", e.Key, e.Got, e.Owner, e.Want, e.Owner)
	case strings.HasPrefix(e.Owned, e.Key+"."):
		key := e.Key
		if e.Got != "" {
			key += " = " + e.Got
		} else {
			key = "[[" + key + "]]"
		}
		return fmt.Sprintf("%s replaces the table that holds %s, which %s sets; set the keys you need inside [%s] instead of replacing it", key, e.Owned, e.Owner, e.Key)
	default:
		return fmt.Sprintf("%s turns %s, which %s sets, into a table; remove it from containerd.config", e.Key, e.Owned, e.Owner)
	}
}

// rawEntryKind is how the raw config writes at a key.
type rawEntryKind int

const (
	rawValue      rawEntryKind = iota // key = value (inline tables are walked into)
	rawTable                          // [key]
	rawArrayTable                     // [[key]]
)

// rawEntry is one key the raw config writes, with its position.
type rawEntry struct {
	path      []string
	kind      rawEntryKind
	line, col int
}

// rawEntries lists every key the raw config writes, in order: table
// headers, array-of-tables headers, and key-values with their full paths
// (inline tables are walked into, since MergeTOML merges them as tables).
func rawEntries(text string) ([]rawEntry, error) {
	var p unstable.Parser
	p.Reset([]byte(text))
	var out []rawEntry
	var table []string
	pos := func(n *unstable.Node) (int, int) {
		s := p.Shape(n.Raw)
		return s.Start.Line, s.Start.Column
	}
	keyOf := func(it unstable.Iterator) (parts []string, first *unstable.Node) {
		for it.Next() {
			if first == nil {
				first = it.Node()
			}
			parts = append(parts, string(it.Node().Data))
		}
		return parts, first
	}
	var value func(path []string, kv *unstable.Node)
	value = func(path []string, kv *unstable.Node) {
		key, first := keyOf(kv.Key())
		full := append(append([]string(nil), path...), key...)
		v := kv.Value()
		if v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				value(full, it.Node())
			}
			return
		}
		line, col := pos(first)
		out = append(out, rawEntry{path: full, kind: rawValue, line: line, col: col})
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			key, first := keyOf(e.Key())
			table = key
			kind := rawTable
			if e.Kind == unstable.ArrayTable {
				kind = rawArrayTable
			}
			line, col := pos(first)
			out = append(out, rawEntry{path: key, kind: kind, line: line, col: col})
		case unstable.KeyValue:
			value(table, e)
		}
	}
	if err := p.Error(); err != nil {
		return nil, &RawConfigError{Msg: "invalid TOML: " + err.Error()}
	}
	return out, nil
}

// overrides returns the error for the first owned key the entry would
// override in the rendered tree, or nil. raw is the whole raw config,
// decoded, to compare values with the rendered ones.
func (e rawEntry) overrides(owned []ownedKey, rendered, raw map[string]any) *OwnedKeyError {
	for _, o := range owned {
		same := slices.Equal(e.path, o.path)
		below := hasPrefix(o.path, e.path) && !same // e holds o
		above := hasPrefix(e.path, o.path) && !same // o holds e
		var conflict bool
		switch e.kind {
		case rawValue:
			conflict = below || above || (same && !sameValue(Lookup(rendered, o.path...), Lookup(raw, e.path...)))
		case rawTable:
			conflict = same || above
		case rawArrayTable:
			conflict = same || above || below
		}
		if !conflict {
			continue
		}
		err := &OwnedKeyError{Line: e.line, Col: e.col, Key: dottedKey(e.path), Owned: dottedKey(o.path), Owner: o.owner}
		if v := Lookup(rendered, o.path...); v != nil {
			err.Want = tomlValue(v)
		}
		if e.kind == rawValue {
			err.Got = tomlValue(Lookup(raw, e.path...))
		}
		return err
	}
	return nil
}

func hasPrefix(path, prefix []string) bool {
	return len(path) >= len(prefix) && slices.Equal(path[:len(prefix)], prefix)
}

// Lookup walks a decoded TOML, YAML or HCL tree along path; nil when a key
// is missing. An array on the way ends the walk.
func Lookup(tree map[string]any, path ...string) any {
	var v any = tree
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// sameValue compares a rendered value with a decoded raw one: both as
// JSON, so 1 and int64(1), or []string and []any of strings, are equal.
func sameValue(rendered, raw any) bool {
	if rendered == nil || raw == nil {
		return false
	}
	a, errA := json.Marshal(rendered)
	b, errB := json.Marshal(raw)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// tomlValue is v as TOML writes it on the right of "=".
func tomlValue(v any) string {
	out, err := toml.Marshal(map[string]any{"k": v})
	if err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(string(out))
	if rest, ok := strings.CutPrefix(s, "k = "); ok {
		return rest
	}
	return s
}

// dottedKey writes a key path as TOML does: bare parts as they are, others
// in single quotes (containerd's plugin names hold dots).
func dottedKey(path []string) string {
	parts := make([]string, len(path))
	for i, k := range path {
		parts[i] = k
		if k == "" || strings.IndexFunc(k, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) >= 0 {
			parts[i] = "'" + k + "'"
		}
	}
	return strings.Join(parts, ".")
}
