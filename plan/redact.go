package plan

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
)

// Spellings lists how a sensitive value can appear in nodeup's output: as
// it is; as a unit file holds it ("%" and "$" doubled, quotes and
// backslashes escaped, as templates write an ExecStart argument); quoted
// as Go, JSON, TOML or YAML double-quoted strings escape it; escaped as a
// URL path or query holds it (a mirror URL that carries a password); and
// each line of a value of several lines, as a block scalar holds it.
func Spellings(v string) []string {
	unit := templates.EscapeSpecifiers(v)
	base := []string{v, unit, templates.EscapeQuoted(unit), url.PathEscape(v), url.QueryEscape(v), (&url.URL{Path: v}).EscapedPath()}
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

// SensitiveSteps finds the steps of g, built from p, that depend on a
// sensitive value: those that differ when the profile's secrets are
// replaced by placeholders (every step, when the masked profile does not
// build). Shown maps the ID of each step whose ID itself holds a secret (a
// kernel module or a file named by a sensitive variable, however short the
// value) to the ID to print in its place, the secret replaced by Redacted.
func SensitiveSteps(p *profile.Profile, g *graph.Graph) (depends map[string]bool, shown map[string]string) {
	depends, shown = map[string]bool{}, map[string]string{}
	if len(p.Sensitive) == 0 {
		return depends, shown
	}
	masked, err := Build(Masked(p))
	for _, id := range g.IDs() {
		inMasked := err == nil && masked.Has(id)
		if !inMasked || !reflect.DeepEqual(g.Step(id).Action, masked.Step(id).Action) {
			depends[id] = true
		}
		if !inMasked {
			if s := RedactID(id, p.Sensitive); s != id {
				shown[id] = s
			}
		}
	}
	return depends, shown
}

// RedactID replaces every sensitive value, longest first and however
// short, in the part of step ID id after its kind.
func RedactID(id string, sensitive []string) string {
	kind, key, ok := strings.Cut(id, ":")
	if !ok {
		kind, key = "", id
	}
	values := append([]string(nil), sensitive...)
	sort.SliceStable(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	for _, v := range values {
		if v != "" {
			key = strings.ReplaceAll(key, v, Redacted)
		}
	}
	if !ok {
		return key
	}
	return kind + ":" + key
}

// HideSensitiveValues returns src, an HCL file, with what a reader of it
// must not be shown replaced by "(sensitive)": the default of every
// variable declared sensitive = true and, in a variables file (name ending
// in AutoVarsSuffix: the values a profile was given), every value. What
// does not parse is returned as it is.
func HideSensitiveValues(src []byte, filename string) []byte {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return src
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return src
	}
	var hide []hcl.Range
	if strings.HasSuffix(filename, AutoVarsSuffix) {
		for _, a := range body.Attributes {
			hide = append(hide, a.Expr.Range())
		}
	}
	for _, b := range body.Blocks {
		if b.Type != "variable" {
			continue
		}
		sens, ok := b.Body.Attributes["sensitive"]
		def, hasDefault := b.Body.Attributes["default"]
		if !ok || !hasDefault {
			continue
		}
		// Unless it is plainly false: a value validate would refuse may
		// still be meant as true.
		if v, diags := sens.Expr.Value(nil); !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.Bool && v.False() {
			continue
		}
		hide = append(hide, def.Expr.Range())
	}
	sort.Slice(hide, func(i, j int) bool { return hide[i].Start.Byte > hide[j].Start.Byte })
	out := bytes.Clone(src)
	for _, r := range hide {
		out = append(out[:r.Start.Byte:r.Start.Byte], append([]byte(`"`+Redacted+`"`), out[r.End.Byte:]...)...)
	}
	return out
}
