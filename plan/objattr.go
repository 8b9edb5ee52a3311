package plan

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// settings evaluates an attribute that holds an object of settings (such
// as node.proxy), and returns its non-null values by key with where each
// key was written (the attribute, for a key not written out). A value
// that is not an object is an error (summary, example) at the attribute;
// ok is false then, and when the attribute is absent.
func (a attrs) settings(name, summary, example string) (values map[string]cty.Value, at func(key string) *hcl.Range, ok bool) {
	v, ok := a.value(name, cty.DynamicPseudoType)
	if !ok {
		return nil, nil, false
	}
	whole := a.rangeOf(name)
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		a.l.errorf(whole, summary, "%s.%s must be an object such as %s.", a.prefix, name, example)
		return nil, nil, false
	}
	keys := a.keyRanges(name)
	at = func(key string) *hcl.Range {
		if r, ok := keys[key]; ok {
			return &r
		}
		return whole
	}
	values = map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		a.l.ranges[joinKey(a.prefix, name, k.AsString())] = *at(k.AsString())
		if !e.IsNull() {
			values[k.AsString()] = e
		}
	}
	return values, at, true
}
