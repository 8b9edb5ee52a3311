package cli

import (
	"bytes"
	"context"
	"fmt"
	"github.com/nodeup/nodeup/internal/escape"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// diagnostic is a profile diagnostic in JSON (docs/json.md), shaped like
// terraform validate -json's.
type diagnostic struct {
	Severity string     `json:"severity"` // error | warning
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	File     string     `json:"file,omitempty"`
	Line     int        `json:"line,omitempty"`
	Column   int        `json:"column,omitempty"`
	Range    *diagRange `json:"range,omitempty"`
}

type diagRange struct {
	Filename string  `json:"filename"`
	Start    diagPos `json:"start"`
	End      diagPos `json:"end"`
}

type diagPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func toDiagnostic(d *hcl.Diagnostic) diagnostic {
	out := diagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
	if d.Severity == hcl.DiagWarning {
		out.Severity = "warning"
	}
	if r := d.Subject; r != nil {
		out.File, out.Line, out.Column = r.Filename, r.Start.Line, r.Start.Column
		out.Range = &diagRange{
			Filename: r.Filename,
			Start:    diagPos{r.Start.Line, r.Start.Column, r.Start.Byte},
			End:      diagPos{r.End.Line, r.End.Column, r.End.Byte},
		}
	}
	return out
}

// report shows diagnostics on stderr, errors first and then in file
// order, and keeps them for the JSON document. One already reported (a
// profile loaded once per architecture) is not repeated.
func (inv *invocation) report(files map[string]*hcl.File, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i], diags[j]
		if a.Severity != b.Severity {
			return a.Severity == hcl.DiagError
		}
		if a.Subject == nil || b.Subject == nil {
			return a.Subject == nil && b.Subject != nil
		}
		if a.Subject.Filename != b.Subject.Filename {
			return a.Subject.Filename < b.Subject.Filename
		}
		return a.Subject.Start.Byte < b.Subject.Start.Byte
	})
	diags = slices.DeleteFunc(slices.Clone(diags), func(d *hcl.Diagnostic) bool {
		return slices.ContainsFunc(inv.diags, func(seen diagnostic) bool { return sameDiagnostic(seen, toDiagnostic(d)) })
	})
	for _, d := range diags {
		inv.diags = append(inv.diags, toDiagnostic(d))
	}
	if inv.g.logFormat == "json" {
		for _, d := range diags {
			j := toDiagnostic(d)
			level := slog.LevelError
			if d.Severity == hcl.DiagWarning {
				level = slog.LevelWarn
			}
			attrs := []slog.Attr{slog.String("summary", j.Summary)}
			if j.File != "" {
				attrs = append(attrs, slog.String("file", j.File), slog.Int("line", j.Line), slog.Int("column", j.Column))
			}
			if j.Detail != "" {
				attrs = append(attrs, slog.String("detail", j.Detail))
			}
			inv.log.LogAttrs(context.Background(), level, diagLine(j), attrs...)
		}
		return
	}
	var buf bytes.Buffer
	wr := hcl.NewDiagnosticTextWriter(&buf, inv.snippetFiles(files), 100, inv.colorErr)
	for _, d := range diags {
		safe := *d
		safe.Summary, safe.Detail = printable(d.Summary), printable(d.Detail)
		// file:line:col first, so editors and CI logs can jump to it.
		if d.Subject != nil {
			fmt.Fprintf(&buf, "%s:%d:%d: ", printable(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column)
		}
		_ = wr.WriteDiagnostic(&safe)
	}
	_, _ = inv.err.Write(buf.Bytes())
}

func sameDiagnostic(a, b diagnostic) bool {
	return a.Severity == b.Severity && a.Summary == b.Summary && a.Detail == b.Detail &&
		a.File == b.File && a.Line == b.Line && a.Column == b.Column
}

// diagLine is a diagnostic in one line: "file:line:col: summary: detail".
func diagLine(d diagnostic) string {
	s := d.Summary
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	if d.File != "" {
		s = fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Column, s)
	}
	return s
}

// snippetFiles are the files whose lines a diagnostic may quote: the
// profile's, with control characters made harmless (same length, so the
// columns stay right). Variable files are left out: they hold values, and
// values may be secrets.
func (inv *invocation) snippetFiles(files map[string]*hcl.File) map[string]*hcl.File {
	varFiles := map[string]bool{}
	for _, vf := range inv.g.varFiles {
		varFiles[filepath.Clean(vf)] = true
	}
	out := map[string]*hcl.File{}
	for name, f := range files {
		if varFiles[filepath.Clean(name)] || f == nil {
			continue
		}
		c := *f
		c.Bytes = bytes.Map(func(r rune) rune {
			if r != '\n' && r != '\t' && r != '\r' && escape.Escaped(r) {
				return '?'
			}
			return r
		}, f.Bytes)
		if len(c.Bytes) != len(f.Bytes) {
			continue // multi-byte control characters: no snippet rather than a wrong one
		}
		out[name] = &c
	}
	return out
}
