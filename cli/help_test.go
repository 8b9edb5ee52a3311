package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// commands lists every command of the tree but the root.
func commands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		out = append(out, c)
		out = append(out, commands(c)...)
	}
	return out
}

func testRoot() *cobra.Command {
	return newInvocation(Streams{}, nil, system{}).rootCommand()
}

// The help of every command, as golden files: a change in a flag or a
// text shows up as a diff.
func TestHelpGolden(t *testing.T) {
	paths := [][]string{{}}
	for _, c := range commands(testRoot()) {
		paths = append(paths, strings.Fields(strings.TrimPrefix(c.CommandPath(), "nodeup")))
	}
	for _, p := range paths {
		name := strings.Join(append([]string{"nodeup"}, p...), "-")
		t.Run(name, func(t *testing.T) {
			code, out, errs := run(t, append(p, "--help")...)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d: %s", code, errs)
			}
			// The default of cloud-init --arch is this machine's.
			out = strings.ReplaceAll(out, `(default "`+runtime.GOARCH+`")`, `(default "GOARCH")`)
			golden(t, filepath.Join("help", name+".golden"), out)
		})
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	for _, c := range append(commands(testRoot()), testRoot()) {
		if c.Parent() != nil && c.Parent().Name() == "completion" {
			continue // one per shell, generated
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
		if c.Runnable() && c.Long == "" && c.Name() != "completion" {
			t.Errorf("%s has no long help", c.CommandPath())
		}
	}
}

// Flags show only on the commands that use them.
func TestFlagsOnlyWhereUsed(t *testing.T) {
	uses := map[string][]string{
		"validate":   {"var", "var-file"},
		"fmt":        {"check", "diff"},
		"render":     {"var", "var-file", "out"},
		"graph":      {"var", "var-file", "format"},
		"plan":       {"var", "var-file", "root", "phase", "parallelism", "detailed-exitcode", "verbose", "out"},
		"apply":      {"var", "var-file", "root", "phase", "parallelism", "wait", "verbose"},
		"verify":     {"var", "var-file", "root", "endpoint", "timeout", "pod"},
		"facts":      {"root"},
		"bundle":     {"var", "var-file", "parallelism", "output", "cache", "arch", "nodeup-binary"},
		"cloud-init": {"var", "var-file", "phase", "nodeup-url", "nodeup-sha256", "arch", "format", "gzip", "part"},
		"cache":      {},
		"version":    {},
		"completion": {},
		"reset":      {"root", "yes", "purge", "wait"},
		"state":      {},
	}
	shared := []string{"var", "var-file", "root", "phase", "parallelism"}
	for _, c := range testRoot().Commands() {
		want, ok := uses[c.Name()]
		if !ok {
			if c.Name() != "help" {
				t.Errorf("%s: no entry in this test", c.Name())
			}
			continue
		}
		for _, f := range shared {
			has := c.Flags().Lookup(f) != nil || c.InheritedFlags().Lookup(f) != nil
			wanted := false
			for _, w := range want {
				wanted = wanted || w == f
			}
			if has != wanted {
				t.Errorf("%s: --%s present %v, want %v", c.Name(), f, has, wanted)
			}
		}
		for _, f := range want {
			if c.Flags().Lookup(f) == nil {
				t.Errorf("%s: no --%s", c.Name(), f)
			}
		}
	}
}

func TestVersionFlag(t *testing.T) {
	code, flagOut, _ := run(t, "--version")
	code2, cmdOut, _ := run(t, "version")
	if code != 0 || code2 != 0 || flagOut != cmdOut || !strings.HasPrefix(flagOut, "nodeup ") {
		t.Errorf("--version: exit %d %q; version: exit %d %q", code, flagOut, code2, cmdOut)
	}
}

// A wrong command line says what is wrong and where the help is, on one
// line.
func TestUsageHints(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"plan"}, "nodeup plan: want one PROFILE argument (a file, or a directory of *.hcl files), got 0; see nodeup plan --help"},
		{[]string{"apply", "a.hcl", "b.hcl"}, "nodeup apply: want one PROFILE argument (a file, or a directory of *.hcl files), got 2; see nodeup apply --help"},
		{[]string{"verify", "a.hcl", "b.hcl"}, "nodeup verify: want at most one PROFILE argument, got 2; see nodeup verify --help"},
		{[]string{"facts", "x"}, `nodeup facts: takes no arguments, got "x"; see nodeup facts --help`},
		{[]string{"fmt"}, "nodeup fmt: want at least one PROFILE argument"},
		{[]string{"plan", "x.hcl", "--bogus"}, "nodeup plan: unknown flag: --bogus; see nodeup plan --help"},
		// Terraform's single-dash long flags get the long flag they name.
		{[]string{"plan", "x.hcl", "-detailed-exitcode"}, "nodeup plan: unknown shorthand flag: 'd' in -detailed-exitcode; did you mean --detailed-exitcode; see nodeup plan --help"},
		{[]string{"apply", "x.hcl", "-json"}, "nodeup apply: unknown shorthand flag: 'j' in -json; did you mean --json; see nodeup apply --help"},
		{[]string{"plan", "x.hcl", "-bogus"}, "nodeup plan: unknown shorthand flag: 'b' in -bogus; see nodeup plan --help"},
		{[]string{"version", "--phase", "bake"}, "nodeup version: unknown flag: --phase; see nodeup version --help"},
		{[]string{"render", "x.hcl"}, `nodeup render: required flag(s) "out" not set; see nodeup render --help`},
		{[]string{"plna"}, `nodeup: unknown command "plna" for "nodeup"; did you mean plan; see nodeup --help`},
		{[]string{"version", "--log-format", "xml"}, `nodeup version: --log-format "xml": use text or json; see nodeup version --help`},
	}
	for _, c := range cases {
		code, out, errs := run(t, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant: %s", c.args, code, out, errs, c.want)
		}
	}
}

// complete runs the shell completion of a command line and returns the
// candidates and the directive.
func complete(t *testing.T, args ...string) (candidates []string, directive string) {
	t.Helper()
	_, out, _ := run(t, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

func TestCompletion(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "p.hcl", "--phase", ""}, "bake boot all :4"},
		{[]string{"apply", "p.hcl", "--phase", ""}, "bake boot all :4"},
		{[]string{"graph", "p.hcl", "--format", ""}, "text dot :4"},
		{[]string{"version", "--log-format", ""}, "text json :4"},
		{[]string{"plan", ""}, "hcl :8"},         // *.hcl files (and directories)
		{[]string{"fmt", "a.hcl", ""}, "hcl :8"}, // more profiles
		{[]string{"plan", "a.hcl", ""}, ":4"},    // one profile only
		{[]string{"plan", "--var-file", ""}, "hcl :8"},
		{[]string{"plan", "--root", ""}, ":16"}, // directories
	}
	for _, c := range cases {
		got, directive := complete(t, c.args...)
		if s := strings.Join(append(got, directive), " "); s != c.want {
			t.Errorf("complete %q: %q, want %q", c.args, s, c.want)
		}
	}
}

// With --json, help is a JSON document like every other command's output:
// nodeup --json and COMMAND --help --json.
func TestHelpJSON(t *testing.T) {
	for _, args := range [][]string{{"--json"}, {"plan", "--help", "--json"}, {"--help", "--json"}} {
		var out, errb bytes.Buffer
		if code := Run(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, nil); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
		}
		var doc struct {
			FormatVersion int `json:"format_version"`
			Usage         string
			Commands      []struct{ Name string }
			Flags         []struct{ Name string }
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.FormatVersion != 1 || doc.Usage == "" {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if args[0] == "plan" && !slices.ContainsFunc(doc.Flags, func(f struct{ Name string }) bool { return f.Name == "detailed-exitcode" }) {
			t.Errorf("plan --help --json has no detailed-exitcode flag: %s", out.String())
		}
		if args[0] != "plan" && !slices.ContainsFunc(doc.Commands, func(c struct{ Name string }) bool { return c.Name == "apply" }) {
			t.Errorf("%v lists no apply command: %s", args, out.String())
		}
	}
}
