package cli

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable makes untrusted text safe for a terminal: control characters
// (escape sequences among them) and invalid UTF-8 are written as Go
// escapes, so a profile string, an HTTP reason phrase or an archive member
// name cannot move the cursor, recolour or retitle the terminal. Newlines
// and tabs stay.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if needsEscape(r) {
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
		case needsEscape(r):
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

func needsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}

// Colours of the terminal output.
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	cyan   = "36"
	bold   = "1"
)

func paint(color, s string) string { return "\x1b[" + color + "m" + s + "\x1b[0m" }

// painter paints when colour is on.
type painter bool

func (p painter) paint(color, s string) string {
	if !p {
		return s
	}
	return paint(color, s)
}
