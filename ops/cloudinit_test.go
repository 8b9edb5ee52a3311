package ops

import (
	"os/exec"
	"testing"
)

func TestShellQuote(t *testing.T) {
	cases := map[string]string{
		"":                    `''`,
		"abc":                 `'abc'`,
		"it's":                `'it'\''s'`,
		`a"b`:                 `'a"b'`,
		"a;b":                 `'a;b'`,
		"$HOME":               `'$HOME'`,
		"`id`":                "'`id`'",
		"$(id)":               `'$(id)'`,
		"a\nb":                "'a\nb'",
		`back\slash`:          `'back\slash'`,
		"'; rm -rf / #":       `''\''; rm -rf / #'`,
		"*? [a] ~ & | < > !x": `'*? [a] ~ & | < > !x'`,
	}
	for in, want := range cases {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	// A real shell reads each quoted value back as one word, unchanged.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for in := range cases {
		out, err := exec.Command(sh, "-c", "printf '%s|' "+shellQuote(in)+" "+shellQuote(in)).Output()
		if err != nil || string(out) != in+"|"+in+"|" {
			t.Errorf("sh read %q back as %q (%v)", in, out, err)
		}
	}
}
