// Package escape makes untrusted text safe to print: a profile string,
// an HTTP reason phrase, an archive member name or a path cannot move the
// cursor, recolour or retitle a terminal, nor start a line of its own in a
// file nodeup writes (a YAML comment, a header).
package escape

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text writes control characters (escape sequences among them) and invalid
// UTF-8 as Go escapes; newlines and tabs stay, for text of several lines.
func Text(s string) string { return escape(s, false) }

// Line is Text that also escapes newlines and tabs: for a name (a path, a
// member of an archive) or anything printed on one line.
func Line(s string) string { return escape(s, true) }

func escape(s string, line bool) string {
	clean := true
	for _, r := range s {
		if needsEscape(r, line) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && line:
			b.WriteString(`\n`)
		case r == '\t' && line:
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case needsEscape(r, line):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// Escaped reports whether Line writes r escaped.
func Escaped(r rune) bool { return needsEscape(r, true) }

func needsEscape(r rune, line bool) bool {
	if !line && (r == '\n' || r == '\t') {
		return false
	}
	return r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085' || unicode.Is(unicode.Bidi_Control, r)
}
