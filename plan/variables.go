package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/nodeup/nodeup/profile"
)

// EnvPrefix is the prefix of environment variables that set profile
// variables: NODEUP_VAR_kubelet_version=1.34.11.
const EnvPrefix = "NODEUP_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: attrSchema("type", "default", "description", "sensitive"),
}

type variable struct {
	name      string
	ty        cty.Type
	value     cty.Value
	sensitive bool
	decl      hcl.Range
}

// variables decodes the variable blocks and assigns their values, lowest
// precedence first: default, NODEUP_VAR_*, --var-file, --var.
func (l *loader) variables(blocks []*hcl.Block) cty.Value {
	vars := map[string]*variable{}
	for _, blk := range blocks {
		name := blk.Labels[0]
		if prev, ok := vars[name]; ok {
			l.errorf(blk.DefRange.Ptr(), "Duplicate variable", "Variable %q is declared twice; the first is at %s.", name, prev.decl)
			continue
		}
		if !hclsyntax.ValidIdentifier(name) {
			l.errorf(blk.LabelRanges[0].Ptr(), "Invalid variable name", "%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", name)
			continue
		}
		v := &variable{name: name, ty: cty.DynamicPseudoType, value: cty.NilVal, decl: blk.DefRange}
		vars[name] = v
		l.decodeVariable(blk, v)
	}
	l.assignGiven(vars)
	return l.variableValues(vars)
}

// decodeVariable decodes a variable block's type, sensitivity, description
// and default into v.
func (l *loader) decodeVariable(blk *hcl.Block, v *variable) {
	content, diags := blk.Body.Content(variableSchema)
	l.diags = append(l.diags, diags...)
	if content == nil {
		return
	}
	if attr, ok := content.Attributes["type"]; ok {
		ty, diags := typeexpr.TypeConstraint(attr.Expr)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() {
			v.ty = ty
		}
	}
	if attr, ok := content.Attributes["sensitive"]; ok {
		s, diags := attr.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() {
			if s, err := convert.Convert(s, cty.Bool); err != nil || s.IsNull() {
				l.errorf(attr.Expr.Range().Ptr(), "Invalid sensitive", "sensitive must be true or false.")
			} else {
				v.sensitive = s.True()
			}
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		_, diags := attr.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
	}
	if attr, ok := content.Attributes["default"]; ok {
		l.variableDefault(v, attr)
	}
}

// variableDefault assigns a variable its default.
func (l *loader) variableDefault(v *variable, attr *hcl.Attribute) {
	if fromFile, _ := l.fromFile(attr.Expr); fromFile {
		l.fileVars[v.name] = true
		l.markFromFile(attr.Expr)
	}
	d, diags := attr.Expr.Value(&hcl.EvalContext{Functions: l.functions()})
	l.diags = append(l.diags, diags...)
	if v.sensitive {
		l.taints = append(l.taints, attr.Expr.Range())
	}
	if !diags.HasErrors() {
		l.assign(v, d, attr.Expr.Range().Ptr(), "default")
	}
	if v.value == cty.NilVal {
		// The default is wrong and that is reported; saying the
		// variable has no default would be a second, false error.
		v.value = cty.DynamicVal
	}
}

// assignGiven assigns the values given from outside the profile, lowest
// precedence first: NODEUP_VAR_*, --var-file, --var.
func (l *loader) assignGiven(vars map[string]*variable) {
	for _, kv := range l.opts.Environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvPrefix)
		// Like Terraform, an environment variable for a variable the
		// profile does not declare is ignored: the environment is shared.
		if v, ok := vars[name]; ok {
			l.assignRaw(v, val, EnvPrefix+name)
			l.given[name] = true
		}
	}
	for _, path := range l.autoVarFiles {
		l.varFile(path, vars)
	}
	for _, path := range l.opts.VarFiles {
		l.varFile(path, vars)
	}
	for _, kv := range l.opts.Vars {
		// The value is never repeated here: it may be a secret given to
		// a misspelt name.
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			l.errorf(nil, "Invalid --var", "A --var argument has no \"=\"; write --var NAME=VALUE.")
			continue
		}
		v, found := vars[name]
		if !found {
			l.errorf(nil, "Undeclared variable", "--var %s=…: the profile declares no variable %q. Declared: %s.", name, name, declared(vars))
			continue
		}
		l.assignRaw(v, val, "--var "+name)
		l.given[name] = true
	}
}

// variableValues is the var object: each variable's value, marked when
// sensitive; a required variable without one is an error.
func (l *loader) variableValues(vars map[string]*variable) cty.Value {
	out := map[string]cty.Value{}
	for _, name := range sortedKeys(vars) {
		v := vars[name]
		if v.value == cty.NilVal {
			l.errorf(v.decl.Ptr(), "No value for required variable",
				"Variable %q has no default; set it with --var %s=VALUE, a --var-file, or %s%s.", name, name, EnvPrefix, name)
			v.value = cty.DynamicVal
		}
		if v.sensitive {
			l.addSensitive(allStrings(v.value)...)
			v.value = v.value.Mark(sensitiveMark{})
		}
		if l.given[name] && v.value.IsWhollyKnown() {
			l.givenVars = append(l.givenVars, profile.GivenVar{Name: name, Value: v.value, Sensitive: v.sensitive})
		}
		out[name] = v.value
	}
	return cty.ObjectVal(out)
}

func declared(vars map[string]*variable) string {
	if len(vars) == 0 {
		return "none"
	}
	var names []string
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// assign converts a value to the variable's type and sets it.
func (l *loader) assign(v *variable, val cty.Value, subject *hcl.Range, from string) {
	if v.sensitive {
		// Even a value of the wrong type is a secret someone typed.
		l.addSensitive(allStrings(val)...)
	}
	if err := checkNumbers(val); err != nil {
		l.errorf(subject, "Invalid value for variable", "%s for variable %q: %v.", from, v.name, err)
		return
	}
	cv, err := convert.Convert(val, v.ty)
	if err != nil {
		l.errorf(subject, "Invalid value for variable",
			"%s for variable %q: %s (want %s).", from, v.name, err, typeexpr.TypeString(v.ty))
		return
	}
	v.value = cv
}

// assignRaw sets a variable from a command-line or environment string: a
// string variable takes it as it is; any other type parses it as an HCL
// expression, e.g. --var 'handlers=["runc"]'.
func (l *loader) assignRaw(v *variable, raw, from string) {
	if v.ty == cty.String || v.ty == cty.DynamicPseudoType {
		l.assign(v, cty.StringVal(raw), nil, from)
		return
	}
	if v.sensitive {
		l.addSensitive(raw)
	}
	// A sensitive value is not quoted back, nor is the parser's message,
	// which quotes it.
	if len(raw) > MaxFileSize {
		l.errorf(nil, "Invalid value for variable", "%s: the value is longer than %d KiB; put it in a --var-file.", from, MaxFileSize>>10)
		return
	}
	if diags := checkSource([]byte(raw), from); diags.HasErrors() {
		l.errorf(nil, "Invalid value for variable", "%s: %s", from, diags[0].Detail)
		return
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), from, hcl.InitialPos)
	if diags.HasErrors() {
		if v.sensitive {
			l.errorf(nil, "Invalid value for variable", "%s: the value of sensitive variable %q is not a valid %s value (the value is not shown).", from, v.name, typeexpr.TypeString(v.ty))
			return
		}
		l.errorf(nil, "Invalid value for variable", "%s: %s is not a valid %s value: %s", from, strconv.Quote(raw), typeexpr.TypeString(v.ty), diags.Error())
		return
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		if v.sensitive {
			l.errorf(nil, "Invalid value for variable", "%s: the value of sensitive variable %q is not a constant %s value (the value is not shown).", from, v.name, typeexpr.TypeString(v.ty))
			return
		}
		l.errorf(nil, "Invalid value for variable", "%s: %s", from, diags.Error())
		return
	}
	l.assign(v, val, nil, from)
}

// varFile reads a file of NAME = VALUE attributes.
func (l *loader) varFile(path string, vars map[string]*variable) {
	f, diags := l.parse(path, "variables")
	l.diags = append(l.diags, diags...)
	if f == nil || diags.HasErrors() {
		if f == nil && !diags.HasErrors() {
			l.errorf(nil, "Cannot read variables file", "--var-file %s could not be read.", path)
		}
		return
	}
	attrs, diags := f.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		attr := attrs[name]
		v, ok := vars[name]
		if !ok {
			l.errorf(attr.NameRange.Ptr(), "Undeclared variable",
				"The profile declares no variable %q. Declared: %s.", name, declared(vars))
			continue
		}
		if v.sensitive {
			l.taints = append(l.taints, attr.Expr.Range())
		}
		val, diags := attr.Expr.Value(nil)
		l.diags = append(l.diags, diags...)
		if !diags.HasErrors() {
			l.assign(v, val, attr.Expr.Range().Ptr(), fmt.Sprintf("value in %s", path))
			l.given[name] = true
		}
	}
}
