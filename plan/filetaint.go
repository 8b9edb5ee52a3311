package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// What file() reads may be anything on the machine (a key, a password
// file), so no error shows it: an expression that calls file(), or names a
// variable whose default does, is marked where it is written, and every
// diagnostic inside it says what is wrong and where, without the value.

// fromFile reports whether expr calls file() or refers to a variable whose
// default does; with the names of the files it reads, when written as
// literals.
func (l *loader) fromFile(expr hcl.Expression) (bool, []string) {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return false, nil
	}
	found := false
	var files []string
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		switch n := n.(type) {
		case *hclsyntax.FunctionCallExpr:
			if n.Name == "file" {
				found = true
				if len(n.Args) == 1 {
					if v, diags := n.Args[0].Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
						files = append(files, strconv.Quote(v.AsString()))
					}
				}
			}
		case *hclsyntax.ScopeTraversalExpr:
			if len(n.Traversal) > 1 && n.Traversal.RootName() == "var" {
				if a, ok := n.Traversal[1].(hcl.TraverseAttr); ok && l.fileVars[a.Name] {
					found = true
					files = append(files, "var."+a.Name)
				}
			}
		}
		return nil
	})
	return found, files
}

// markFromFile records expr's range if its value may come from file().
func (l *loader) markFromFile(expr hcl.Expression) {
	if ok, files := l.fromFile(expr); ok {
		l.fileExprs = append(l.fileExprs, fileExpr{expr.Range(), files})
	}
}

type fileExpr struct {
	rng   hcl.Range
	files []string // file("...") arguments and var.NAMEs, for the message
}

// readFrom returns the marked expression that holds r, or nil.
func (l *loader) readFrom(r *hcl.Range) *fileExpr {
	if r == nil {
		return nil
	}
	for i, e := range l.fileExprs {
		if e.rng.Filename == r.Filename && e.rng.Start.Byte <= r.Start.Byte && r.End.Byte <= e.rng.End.Byte {
			return &l.fileExprs[i]
		}
	}
	return nil
}

// hiddenDetail replaces the detail of an error about a value read with
// file(): the summary (or the function that failed) and the position say
// what and where.
func hiddenDetail(what string, e *fileExpr) string {
	from := "a file read with file()"
	if len(e.files) > 0 {
		from = strings.Join(e.files, ", ")
	}
	return fmt.Sprintf("%s on a value read from %s; nodeup shows nothing a file holds in its errors. Check that file.", what, from)
}

// hideFileContents rewrites the diagnostics about values read with file():
// a function failing on them, or a check of nodeup's, loses its detail;
// none shows the values of the variables it involves. The errors of file()
// itself (a missing file, one outside the profile's directory) stay as
// they are: they name the file, not what it holds.
func (l *loader) hideFileContents() {
	for _, d := range l.diags {
		e := l.readFrom(d.Subject)
		if e == nil && d.Expression != nil {
			if ok, files := l.fromFile(d.Expression); ok {
				e = &fileExpr{d.Expression.Range(), files}
			}
		}
		if e == nil {
			continue
		}
		fc, isCall := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		switch {
		case isCall && fc.CalledFunctionName() != "file":
			d.Detail = hiddenDetail(fmt.Sprintf("Function %s failed", fc.CalledFunctionName()), e)
		case d.Extra == ownCheck:
			d.Detail = hiddenDetail(d.Summary, e)
		}
		d.Expression, d.EvalContext = nil, nil
	}
}

// ownCheck marks the diagnostics of nodeup's own checks, which may quote
// the value they check.
var ownCheck = &struct{ name string }{"nodeup check"}
