// Package cli is nodeup's command line. Main is the only place that exits;
// every command writes through the streams it is given, so commands are
// testable with buffers.
//
// Each command prints its result on stdout (text, or one JSON document
// with --json) and everything else — log lines, warnings, diagnostics,
// download progress, the error that ended it — on stderr (text, or one
// JSON object a line with --log-format json).
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/ops"
)

// version is stamped at release build time with -ldflags -X.
var version = "dev"

// Streams are the input and outputs of a command.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// exitError ends a command with an exit code and no message: plan
// --detailed-exitcode's 2.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a command line nodeup cannot run: a wrong number of
// arguments, an unknown flag or command, a missing required flag.
type usageError struct {
	cmd string // "nodeup plan"
	msg string
}

func (e usageError) Error() string { return fmt.Sprintf("%s: %s; see %s --help", e.cmd, e.msg, e.cmd) }

// system is what nodeup asks of the machine beside the streams, so tests
// can be someone else.
type system struct {
	euid func() int
	// unguarded turns the stream guard off, so tests can show that
	// sensitive values are kept out where they enter, not only caught on
	// the way out.
	unguarded bool
}

// Main runs nodeup with the process's arguments and environment and
// returns the exit code.
func Main() int {
	return Run(os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Environ())
}

// Run runs one nodeup command line and returns its exit code: 0 success,
// 1 any error, 2 only for plan --detailed-exitcode with changes.
func Run(args []string, s Streams, environ []string) int {
	return runWith(args, s, environ, system{euid: os.Geteuid})
}

func runWith(args []string, s Streams, environ []string, sys system) (code int) {
	// A panic is a failure like any other: reported, exit 1.
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(s.Err, "nodeup: %v\n", &ops.PanicError{Value: p, Where: "running " + strings.Join(args, " "), Stack: debug.Stack()})
			code = 1
		}
	}()
	inv := newInvocation(s, environ, sys)
	root := inv.rootCommand()
	root.SetArgs(singleDashFlags(args))
	cmd, err := root.ExecuteC()
	return inv.finish(cmd, args, err)
}

// singleDashFlags accepts fmt's flags written as Terraform writes them
// (-check, -diff); pflag reads a single dash as short flags.
func singleDashFlags(args []string) []string {
	out := append([]string(nil), args...)
	sub := -1
	for i, a := range out {
		if !strings.HasPrefix(a, "-") {
			sub = i
			break
		}
	}
	if sub < 0 || out[sub] != "fmt" {
		return out
	}
	for i := sub + 1; i < len(out); i++ {
		switch out[i] {
		case "-check", "-diff":
			out[i] = "-" + out[i]
		}
	}
	return out
}

// shorthandInWord finds the word pflag read as short flags: "-out" is
// "-o -u -t" to it.
var shorthandInWord = regexp.MustCompile(`unknown shorthand flag: '.' in -([A-Za-z][A-Za-z0-9-]+)`)

// singleDashHint suggests the long flag a single-dash word names, as
// Terraform's users write them (-detailed-exitcode, -out).
func singleDashHint(c *cobra.Command, err error) string {
	m := shorthandInWord.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	name, _, _ := strings.Cut(m[1], "=")
	if c.Flags().Lookup(name) == nil && c.InheritedFlags().Lookup(name) == nil {
		return ""
	}
	return "; did you mean --" + m[1]
}

// NewRootCommand builds the nodeup command tree writing to s (for
// documentation generators: man pages).
func NewRootCommand(s Streams, environ []string) *cobra.Command {
	return newInvocation(s, environ, system{euid: os.Geteuid}).rootCommand()
}

func (inv *invocation) rootCommand() *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "nodeup",
		Short: "Turn a Linux host into a Kubernetes node from a reviewed profile",
		Long: `nodeup turns a Linux host into a Kubernetes-ready node from a profile written in HCL:
it installs containerd, runc, the CNI plugins, crictl, kata-containers and the kubelet,
renders their configuration from one cgroup-driver setting, enables and starts the units,
and proves the result over CRI. A second run changes nothing.

Every command prints its result on stdout (--json: one JSON document, see docs/json.md)
and logs, warnings, diagnostics and download progress on stderr (--log-format json: one
JSON object a line). Exit codes: 0 success, 1 any error, 2 only for
plan --detailed-exitcode with changes.`,
		Example: `  nodeup validate node.hcl
  nodeup plan node.hcl
  sudo nodeup apply node.hcl
  nodeup --version`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return inv.setup(cmd)
		},
		RunE: inv.action(func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				return inv.printVersion()
			}
			return cmd.Help()
		}),
	}
	root.SetOut(inv.raw.Out)
	root.SetErr(inv.raw.Err)
	root.SetIn(inv.raw.In)
	root.Flags().BoolVar(&showVersion, "version", false, "print nodeup's version (as nodeup version)")
	root.SetHelpFunc(inv.help)
	f := root.PersistentFlags()
	f.BoolVar(&inv.g.json, "json", false, "print the result on stdout as one JSON document (format_version 1, see docs/json.md)")
	f.BoolVar(&inv.g.noColor, "no-color", false, "no colour in output (also NO_COLOR=1 or TERM=dumb)")
	f.StringVar(&inv.g.logFormat, "log-format", "text", "stderr as text, or json: one JSON object a line")
	_ = root.RegisterFlagCompletionFunc("log-format", fixedCompletion("text", "json"))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{cmd: c.CommandPath(), msg: oneLine(err.Error()) + singleDashHint(c, err)}
	})
	root.AddCommand(
		inv.validateCommand(),
		inv.fmtCommand(),
		inv.renderCommand(),
		inv.graphCommand(),
		inv.planCommand(),
		inv.applyCommand(),
		inv.verifyCommand(),
		inv.factsCommand(),
		inv.bundleCommand(),
		inv.cloudInitCommand(),
		inv.cacheCommand(),
		inv.resetCommand(),
		inv.stateCommand(),
		inv.versionCommand(),
	)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = `  source <(nodeup completion bash)
  nodeup completion zsh > "${fpath[1]}/_nodeup"
  nodeup completion fish > ~/.config/fish/completions/nodeup.fish`
		}
	}
	return root
}

// action wraps a command's work: from here on an error is the command's,
// not the command line's.
func (inv *invocation) action(fn func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		inv.started = true
		return fn(cmd, args)
	}
}

// finish reports how the command ended and returns the exit code.
func (inv *invocation) finish(cmd *cobra.Command, args []string, err error) int {
	if cmd == nil {
		cmd = &cobra.Command{Use: "nodeup"}
	}
	setupErr := inv.setup(cmd)
	defer inv.close()
	if err == nil {
		err = setupErr
	}
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	if !inv.started && !errors.As(err, &ue) {
		err = usageError{cmd: cmd.CommandPath(), msg: oneLine(err.Error())}
	}
	// --json may not have been parsed when the command line was wrong.
	if !inv.g.json && !inv.started {
		for _, a := range args {
			inv.g.json = inv.g.json || a == "--json" || a == "--json=true"
		}
	}
	msg := oneLine(err.Error())
	inv.log.Error(msg)
	if inv.g.json && !inv.emitted {
		inv.emitError(msg)
	}
	return 1
}

// oneLine folds cobra's multi-line messages ("Did you mean this?").
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\n\nDid you mean this?\n\t", "; did you mean ")
	return strings.ReplaceAll(s, "\n\t", ", ")
}

func (inv *invocation) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print nodeup's version",
		Long:    "Print nodeup's version, the Go release it was built with and its platform. nodeup --version prints the same.",
		Example: "  nodeup version\n  nodeup version --json",
		Args:    noArgs,
		RunE: inv.action(func(*cobra.Command, []string) error {
			return inv.printVersion()
		}),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
}

func (inv *invocation) printVersion() error {
	return inv.show(versionView{version: nodeupVersion(), goVersion: runtime.Version(), platform: runtime.GOOS + "/" + runtime.GOARCH})
}

// versionView is nodeup's version, the Go release and the platform.
type versionView struct{ version, goVersion, platform string }

func (v versionView) human(inv *invocation) {
	fmt.Fprintf(inv.out, "nodeup %s (%s, %s)\n", v.version, v.goVersion, v.platform)
}

func (v versionView) document() any {
	return map[string]any{"version": v.version, "go": v.goVersion, "platform": v.platform}
}

func (v versionView) ok() bool { return true }

// nodeupVersion is the version this nodeup was built as: the release's,
// or the module's when built with go install.
func nodeupVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}
