package steps

import (
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// unifiedDiff is the change of a file as `diff -u` shows it.
func unifiedDiff(path string, old, new []byte) string {
	from := path
	if old == nil {
		from = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        diffLines(old),
		B:        diffLines(new),
		FromFile: from,
		ToFile:   path,
		Context:  3,
	})
	if err != nil {
		return ""
	}
	return d
}

// diffLines splits b into lines that keep their "\n". Unlike
// difflib.SplitLines it adds no empty last line to text that ends in a
// newline, which would show as a phantom line and skew the hunk counts.
func diffLines(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += "\n"
	return lines
}
