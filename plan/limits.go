package plan

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/nodeup/nodeup/node/host"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

// Bounds on what a profile may hold, far above what any profile needs, so
// a hostile one cannot exhaust nodeup's stack, memory or time: the parser
// recurses once per level of nesting and per operator, and formatting a
// number with a huge exponent takes time without end.
const (
	// MaxFileSize bounds a profile file, a --var-file and a file() read.
	MaxFileSize = 1 << 20
	maxDepth    = 64     // nested brackets, braces, parentheses, templates
	maxTokens   = 100000 // per file
	maxOps      = 10000  // operators per file: each may recurse
	maxExponent = 1000   // of a number literal (1e1000)
	// maxNumberBits bounds the binary exponent of any number the profile
	// computes (about 1e1200).
	maxNumberBits = 4000
)

// ReadFile reads a profile or variables file the way Load does: a regular
// file of at most MaxFileSize bytes, never blocking on a fifo or reading a
// device without end.
func ReadFile(p string) ([]byte, error) { return readBounded(p, MaxFileSize) }

// readBounded reads the regular file p, at most max bytes, without blocking
// on a fifo or reading a device forever.
func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpened(f, p, max)
}

func readOpened(f *os.File, p string, max int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file; nodeup reads regular files only", p, "a "+host.KindOf(fi.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d KiB, the most nodeup reads for a profile", p, max>>10)
	}
	return b, nil
}

// checkSource lexes src (without parsing it) and reports what would make
// the parser recurse too deep or a number take forever: nesting deeper
// than maxDepth, more than maxTokens tokens or maxOps operators, a number
// literal with an exponent above maxExponent. Each error points at the
// token where the bound is crossed.
func checkSource(src []byte, filename string) hcl.Diagnostics {
	tokens, diags := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil // the parser reports these, with context
	}
	fail := func(tok hclsyntax.Token, summary, format string, args ...any) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: tok.Range.Ptr()}}
	}
	depth, ops := 0, 0
	for i, tok := range tokens {
		if i == maxTokens {
			return fail(tok, "Profile too long",
				"%s has more than %d tokens; a profile needs a few thousand. Split the values out, or check that this is the file you meant.", filename, maxTokens)
		}
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			if depth++; depth > maxDepth {
				return fail(tok, "Profile nested too deeply",
					"Brackets, braces, parentheses and templates nest more than %d levels here; a profile needs a handful. Flatten the expression.", maxDepth)
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc,
			hclsyntax.TokenTemplateSeqEnd:
			depth--
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenPlus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual,
			hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenQuestion:
			if ops++; ops > maxOps {
				return fail(tok, "Too many operators",
					"%s has more than %d operators; a profile needs a few. Write the values themselves.", filename, maxOps)
			}
		case hclsyntax.TokenNumberLit:
			if exp, ok := exponent(string(tok.Bytes)); !ok || exp > maxExponent || exp < -maxExponent || len(tok.Bytes) > 100 {
				return fail(tok, "Number too large",
					"This number literal is too large to work with (more than 100 digits, or an exponent beyond ±%d); nodeup's numbers are small counts and versions. Write the number itself.", maxExponent)
			}
		case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit:
			// A string that is a number becomes one wherever a number is
			// wanted.
			if lit := strings.TrimSpace(string(tok.Bytes)); numberText.MatchString(lit) {
				if exp, ok := exponent(lit); !ok || exp > maxExponent || exp < -maxExponent {
					return fail(tok, "Number too large",
						"This string is a number with an exponent beyond ±%d, too large to work with; nodeup's numbers are small counts and versions. Write the number itself.", maxExponent)
				}
			}
		}
	}
	return nil
}

// numberText is a string cty would read as a number with an exponent.
var numberText = regexp.MustCompile(`^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$`)

// exponent is the decimal exponent written in a number literal (0 when
// there is none); ok is false when it does not fit an int.
func exponent(lit string) (int, bool) {
	i := strings.IndexAny(lit, "eE")
	if i < 0 {
		return 0, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
	return n, err == nil
}

// errHugeNumber is a value holding a number too large to format in
// reasonable time.
var errHugeNumber = errors.New("it holds a number too large to work with (beyond about 1e1200); nodeup's numbers are small counts and versions")

// checkNumbers fails when v holds, at any depth, a number whose binary
// exponent is beyond maxNumberBits: converting it to text (a string, JSON,
// an error message) would take time without end.
func checkNumbers(v cty.Value) error {
	v, _ = v.UnmarkDeep()
	return checkUnmarkedNumbers(v)
}

func checkUnmarkedNumbers(v cty.Value) error {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.Number:
		if bitsOf(v.AsBigFloat()) > maxNumberBits {
			return errHugeNumber
		}
	case ty.IsListType(), ty.IsSetType(), ty.IsTupleType(), ty.IsMapType(), ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if err := checkUnmarkedNumbers(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// bitsOf is the magnitude of f's binary exponent (0 for 0 and ±Inf).
func bitsOf(f *big.Float) int {
	if f.IsInf() || f.Sign() == 0 {
		return 0
	}
	exp := f.MantExp(nil)
	if exp < 0 {
		return -exp
	}
	return exp
}

// maxForElements bounds the elements nested for-expressions may build:
// [for i in L : [for j in L : ...]] builds len(L)² of them before any
// function or check sees the result.
const maxForElements = 1 << 20

// forSize estimates, before expr is evaluated, how many elements its
// nested for-expressions build: the product of the lengths of the
// collections along each chain of nesting whose collection can be
// evaluated on its own (one that names an outer iterator counts as 1: it
// is bounded by that iterator's value, itself bounded). It fails when that
// is more than maxForElements.
func (l *loader) forSize(expr hcl.Expression) error {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return nil
	}
	var walk func(n hclsyntax.Node, product int) error
	walk = func(n hclsyntax.Node, product int) error {
		if fe, ok := n.(*hclsyntax.ForExpr); ok {
			if err := walk(fe.CollExpr, product); err != nil {
				return err
			}
			size := 1
			if v, diags := fe.CollExpr.Value(l.ctx); !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.CanIterateElements() {
				size = max(v.LengthInt(), 1)
			}
			if product *= size; product > maxForElements {
				return fmt.Errorf("its for-expressions would build more than %d elements, more than any profile value needs; iterate over smaller collections", maxForElements)
			}
			for _, e := range []hclsyntax.Expression{fe.KeyExpr, fe.ValExpr, fe.CondExpr} {
				if e != nil {
					if err := walk(e, product); err != nil {
						return err
					}
				}
			}
			return nil
		}
		var err error
		hclsyntax.VisitAll(n, func(c hclsyntax.Node) hcl.Diagnostics {
			if c == n || err != nil {
				return nil
			}
			if _, isFor := c.(*hclsyntax.ForExpr); isFor {
				err = walk(c, product)
			}
			return nil
		})
		return err
	}
	return walk(node, 1)
}
