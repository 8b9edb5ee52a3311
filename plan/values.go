package plan

import (
	"encoding/json"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// attrs decodes the attributes of one block, recording where each was
// written under prefix (e.g. "containerd") in the loader's range map.
type attrs struct {
	l      *loader
	prefix string
	m      hcl.Attributes
}

func (l *loader) attrs(prefix string, content *hcl.BodyContent) attrs {
	a := attrs{l: l, prefix: prefix, m: content.Attributes}
	for name, attr := range a.m {
		l.ranges[joinKey(prefix, name)] = attr.Expr.Range()
		l.markFromFile(attr.Expr)
	}
	return a
}

// value evaluates an attribute and converts it to ty. It returns false when
// the attribute is absent, null, or wrong (the error is recorded).
func (a attrs) value(name string, ty cty.Type) (cty.Value, bool) {
	attr, ok := a.m[name]
	if !ok {
		return cty.NilVal, false
	}
	if err := a.l.forSize(attr.Expr); err != nil {
		a.l.failed[joinKey(a.prefix, name)] = true
		a.l.errorf(attr.Expr.Range().Ptr(), "Value too large", "%s.%s: %v.", a.prefix, name, err)
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(a.l.ctx)
	a.l.diags = append(a.l.diags, onceOverBudget(diags)...)
	if !diags.HasErrors() && valueSize(v, maxValueSize) > maxValueSize {
		a.l.failed[joinKey(a.prefix, name)] = true
		a.l.errorf(attr.Expr.Range().Ptr(), "Value too large", "%s.%s: %v; write a smaller value.", a.prefix, name, errTooLarge)
		return cty.NilVal, false
	}
	v = a.l.unmark(v, attr.Expr.Range())
	if diags.HasErrors() || !v.IsWhollyKnown() {
		// Only a variable without a value is unknown, and that is
		// reported at the variable already.
		a.l.failed[joinKey(a.prefix, name)] = true
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	// Before anything turns a number into text (a conversion, JSON, an
	// error message), and again after a string became a number.
	if err := checkNumbers(v); err != nil {
		a.l.errorf(attr.Expr.Range().Ptr(), "Number too large", "%s.%s: %v. Write the number itself.", a.prefix, name, err)
		return cty.NilVal, false
	}
	if ty == cty.DynamicPseudoType {
		return v, true
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		a.l.failed[joinKey(a.prefix, name)] = true
		a.l.errorf(attr.Expr.Range().Ptr(), "Incorrect attribute value type",
			"%s.%s must be %s: %s.", a.prefix, name, ty.FriendlyName(), err)
		return cty.NilVal, false
	}
	if err := checkNumbers(cv); err != nil {
		a.l.errorf(attr.Expr.Range().Ptr(), "Number too large", "%s.%s: %v. Write the number itself.", a.prefix, name, err)
		return cty.NilVal, false
	}
	return cv, true
}

func (a attrs) str(name string, dst *string) bool {
	v, ok := a.value(name, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

func (a attrs) boolean(name string, dst *bool) bool {
	v, ok := a.value(name, cty.Bool)
	if ok {
		*dst = v.True()
	}
	return ok
}

func (a attrs) integer(name string, dst *int) bool {
	v, ok := a.value(name, cty.Number)
	if !ok {
		return false
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || int64(int(i)) != i {
		a.l.errorf(a.rangeOf(name), "Invalid number", "%s.%s must be a whole number; got %s.", a.prefix, name, bf.Text('g', 10))
		return false
	}
	*dst = int(i)
	return true
}

func (a attrs) strList(name string, dst *[]string) bool {
	v, ok := a.value(name, cty.List(cty.String))
	if !ok {
		return false
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			a.l.errorf(a.rangeOf(name), "Null list element", "%s.%s must not hold null values.", a.prefix, name)
			return false
		}
		out = append(out, e.AsString())
	}
	*dst = out
	return true
}

func (a attrs) strMap(name string, dst *map[string]string) bool {
	v, ok := a.value(name, cty.Map(cty.String))
	if !ok {
		return false
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			a.l.errorf(a.rangeOf(name), "Null map value", "%s.%s[%q] must not be null.", a.prefix, name, k.AsString())
			return false
		}
		out[k.AsString()] = e.AsString()
	}
	*dst = out
	return true
}

// object decodes an attribute of any object or map type into plain Go
// values (JSON shapes), recording where each top-level key was written.
func (a attrs) object(name string, dst *map[string]any, keyRanges map[string]hcl.Range) bool {
	v, ok := a.value(name, cty.DynamicPseudoType)
	if !ok {
		return false
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		a.l.errorf(a.rangeOf(name), "Incorrect attribute value type", "%s.%s must be an object, e.g. { maxPods = 110 }.", a.prefix, name)
		return false
	}
	raw, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		a.l.errorf(a.rangeOf(name), "Invalid value", "%s.%s: %s.", a.prefix, name, err)
		return false
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		a.l.errorf(a.rangeOf(name), "Invalid value", "%s.%s: %s.", a.prefix, name, err)
		return false
	}
	*dst = out
	for k, r := range a.keyRanges(name) {
		keyRanges[k] = r
	}
	return true
}

// keyRanges maps each key of a map or object attribute written as a
// literal ({ k = v, ... }) to where its pair was written; nil otherwise.
func (a attrs) keyRanges(name string) map[string]hcl.Range {
	attr, ok := a.m[name]
	if !ok {
		return nil
	}
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil
	}
	out := map[string]hcl.Range{}
	for _, pair := range pairs {
		k := hcl.ExprAsKeyword(pair.Key)
		if k == "" {
			if kv, d := pair.Key.Value(a.l.ctx); !d.HasErrors() && kv.Type() == cty.String && kv.IsKnown() && !kv.IsNull() {
				kv, _ = kv.UnmarkDeep()
				k = kv.AsString()
			}
		}
		if k != "" {
			out[k] = hcl.RangeBetween(pair.Key.Range(), pair.Value.Range())
		}
	}
	return out
}

// rangeOf is where an attribute was written; nil when it was not.
func (a attrs) rangeOf(name string) *hcl.Range {
	if attr, ok := a.m[name]; ok {
		return attr.Expr.Range().Ptr()
	}
	return nil
}

// onceOverBudget keeps the first of the errors of calls made after the
// load's budget ran out (errTooMuch): a for-expression reports one per
// iteration.
func onceOverBudget(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	seen := false
	for _, d := range diags {
		if strings.Contains(d.Detail, errTooMuch.Error()) {
			if seen {
				continue
			}
			seen = true
		}
		out = append(out, d)
	}
	return out
}
