package escape

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestLineAndText(t *testing.T) {
	for in, want := range map[string]string{
		"plain/path":          "plain/path",
		"a\x1b[31mred":        `a\x1b[31mred`,
		"two\nlines\tx":       `two\nlines\tx`,
		"bad\xffutf8":         `bad\xffutf8`,
		"rtl\u202eoverride":   `rtl\u202eoverride`,
		"sep\u2028line\u0085": `sep\u2028line\x85`,
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Text("a\nb\x1b"); got != "a\nb\\x1b" {
		t.Errorf("Text keeps newlines only: %q", got)
	}
}

// Whatever a name holds, its Line form is one line of valid UTF-8 without
// a control character.
func FuzzLine(f *testing.F) {
	f.Add("x\n# injected: key")
	f.Add("\x1b]0;title\x07")
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Line(%q) = %q: invalid UTF-8", s, out)
		}
		if i := strings.IndexFunc(out, func(r rune) bool {
			return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
		}); i >= 0 {
			t.Fatalf("Line(%q) = %q holds a control character", s, out)
		}
	})
}
