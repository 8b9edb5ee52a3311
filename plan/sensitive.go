package plan

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/nodeup/nodeup/profile"
)

// sensitiveMark marks the values of sensitive variables while the profile
// is evaluated, so every value computed from one (an interpolated flag, a
// raw config that embeds one) carries the mark too, and HCL's diagnostics
// never show it.
type sensitiveMark struct{}

// Redacted is what nodeup prints in place of a sensitive value.
const Redacted = "(sensitive)"

// addSensitive records strings that must never be printed.
func (l *loader) addSensitive(values ...string) {
	for _, s := range values {
		if s != "" && !l.sensitiveSet[s] {
			if l.sensitiveSet == nil {
				l.sensitiveSet = map[string]bool{}
			}
			l.sensitiveSet[s] = true
			l.sensitive = append(l.sensitive, s)
		}
	}
}

// holdsSensitive reports whether s is, or holds, a sensitive value
// recorded so far (one too short to tell from other text only as a whole).
func (l *loader) holdsSensitive(s string) bool {
	if l.sensitiveSet[s] {
		return true
	}
	for _, v := range l.sensitive {
		if len(v) >= 3 && strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// unmark strips the sensitive mark from an evaluated attribute, recording
// every string it covered as sensitive and the range it was written at:
// diagnostics about that range must not repeat those strings.
func (l *loader) unmark(v cty.Value, at hcl.Range) cty.Value {
	if !v.ContainsMarked() {
		return v
	}
	clean, marks := v.UnmarkDeepWithPaths()
	for _, pm := range marks {
		if part, err := pm.Path.Apply(clean); err == nil {
			l.addSensitive(allStrings(part)...)
		}
	}
	l.taints = append(l.taints, at)
	return clean
}

// allStrings lists the strings inside a value, map keys and object
// attribute names of a sensitive value included.
func allStrings(v cty.Value) []string {
	if v.IsMarked() {
		v, _ = v.UnmarkDeep()
	}
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return []string{v.AsString()}
	case ty.IsPrimitiveType():
		return nil
	case v.CanIterateElements():
		var out []string
		keyed := ty.IsMapType() || ty.IsObjectType()
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if keyed {
				out = append(out, k.AsString())
			}
			out = append(out, allStrings(e)...)
		}
		return out
	}
	return nil
}

// scrubDiagnostics takes sensitive values out of the diagnostics about
// the places they were written: the quoted form of each one, and the bare
// form of any long enough not to be mistaken for unrelated text.
func (l *loader) scrubDiagnostics() {
	if len(l.sensitive) == 0 {
		return
	}
	values := append([]string(nil), l.sensitive...)
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	scrub := func(s string) string {
		for _, v := range values {
			s = strings.ReplaceAll(s, strconv.Quote(v), Redacted)
			if len(v) >= 3 {
				s = strings.ReplaceAll(s, v, Redacted)
			}
		}
		return s
	}
	for _, d := range l.diags {
		if d.Subject == nil || !l.tainted(*d.Subject) {
			continue
		}
		d.Summary = scrub(d.Summary)
		d.Detail = scrub(d.Detail)
	}
}

// tainted reports whether r overlaps a range that holds a sensitive value.
func (l *loader) tainted(r hcl.Range) bool {
	for _, t := range l.taints {
		if t.Filename == r.Filename && r.Start.Byte <= t.End.Byte && t.Start.Byte <= r.End.Byte {
			return true
		}
	}
	return false
}

// Masked returns a copy of p in which every string that holds a sensitive
// value holds a placeholder instead. Whatever differs between what p and
// Masked(p) render or build depends on a secret: that is how a rendered
// file, a step or a diff is known to hold one in whatever form a renderer
// wrote it (escaped, quoted, folded over lines).
func Masked(p *profile.Profile) *profile.Profile {
	if len(p.Sensitive) == 0 {
		return p
	}
	set := map[string]bool{}
	for _, s := range p.Sensitive {
		set[s] = true
	}
	values := append([]string(nil), p.Sensitive...)
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	mask := func(s string) string {
		if !set[s] {
			return s
		}
		// Replacing only the sensitive parts keeps a raw TOML config that
		// embeds one parseable, so the rest of it still compares.
		// A value too short to tell from other text masks a string only
		// as a whole.
		out := s
		for i, v := range values {
			if v != s && len(v) >= 3 {
				out = strings.ReplaceAll(out, v, "nodeupmasked"+strconv.Itoa(i))
			}
		}
		if out == s {
			out = "nodeupmasked"
		}
		return out
	}
	m := &profile.Profile{}
	*m = *p
	masked := mapStrings(reflect.ValueOf(p).Elem(), mask)
	reflect.ValueOf(m).Elem().Set(masked)
	m.Sensitive = p.Sensitive
	m.Files = p.Files
	return m
}

// mapStrings returns a deep copy of v with f applied to every string in it,
// map keys included.
func mapStrings(v reflect.Value, f func(string) string) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		out.SetString(f(v.String()))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(mapStrings(v.Elem(), f))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(mapStrings(v.Elem(), f))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if out.Field(i).CanSet() {
				out.Field(i).Set(mapStrings(v.Field(i), f))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(mapStrings(v.Index(i), f))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(mapStrings(it.Key(), f), mapStrings(it.Value(), f))
		}
		return out
	}
	return v
}
