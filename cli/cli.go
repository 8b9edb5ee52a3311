// Package cli is nodeup's command line. Main is the only place that exits;
// every command writes through the streams it is given, so commands are
// testable with buffers.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// version is stamped at release build time with -ldflags -X.
var version = "dev"

// Streams are the input and outputs of a command.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// exitError carries an exit code out of a command; its message, if any,
// has been printed already. Only plan --detailed-exitcode uses a code other
// than 1.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// errReported is returned when a command has printed its errors itself.
var errReported = exitError{code: 1}

// Main runs nodeup with the process's arguments and environment and
// returns the exit code.
func Main() int {
	return Run(os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Environ())
}

// Run runs one nodeup command line and returns its exit code: 0, 1 for
// any failure, 2 only for plan --detailed-exitcode with changes. A panic
// is a failure like any other: reported, exit 1.
func Run(args []string, s Streams, environ []string) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(s.Err, "nodeup: %v\n", &panicError{value: p, where: "running " + strings.Join(args, " "), stack: debug.Stack()})
			code = 1
		}
	}()
	root := NewRootCommand(s, environ)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(s.Err, "nodeup: %v\n", err)
	return 1
}

// panicError is a panic turned into an error: a bug in nodeup, said as one.
type panicError struct {
	value any
	where string
	stack []byte
}

func (e *panicError) Error() string {
	msg := fmt.Sprintf("internal error while %s: %v; this is a bug in nodeup, please report it with the command line", e.where, e.value)
	if len(e.stack) > 0 {
		msg += "\n" + string(e.stack)
	}
	return msg
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	vars        []string
	varFiles    []string
	root        string
	phase       string
	json        bool
	parallelism int
	noColor     bool
	logFormat   string
	allowFiles  []string
	environ     []string
	// arch is the architecture a profile without node.arch is for; ""
	// is this machine's (bundle --arch sets it).
	arch string
	// loadTimeout overrides the bound on evaluating a profile (tests).
	loadTimeout time.Duration
}

// NewRootCommand builds the nodeup command tree.
func NewRootCommand(s Streams, environ []string) *cobra.Command {
	g := &globalOptions{environ: environ}
	root := &cobra.Command{
		Use:           "nodeup",
		Short:         "Turn a Linux host into a Kubernetes node from a reviewed profile",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetIn(s.In)
	f := root.PersistentFlags()
	f.StringArrayVar(&g.vars, "var", nil, "set a profile variable: NAME=VALUE (repeatable)")
	f.StringArrayVar(&g.varFiles, "var-file", nil, "read profile variables from an HCL file of NAME = VALUE lines (repeatable)")
	f.StringVar(&g.root, "root", "/", "treat DIR as the node's / (implies no D-Bus when not /)")
	f.StringVar(&g.phase, "phase", "all", "bake (install, write, enable; start nothing) | boot (start and verify) | all")
	f.BoolVar(&g.json, "json", false, "machine-readable output on stdout")
	f.IntVar(&g.parallelism, "parallelism", runtime.NumCPU()*2, "steps run at once")
	f.BoolVar(&g.noColor, "no-color", false, "no colour in output")
	f.StringVar(&g.logFormat, "log-format", "text", "log lines as text or json")
	f.StringArrayVar(&g.allowFiles, "allow-file-outside", nil, "let the profile's file() read files in `DIR` too, not only in the profile's directory (repeatable)")

	root.AddCommand(
		newValidateCommand(s, g),
		newRenderCommand(s, g),
		newGraphCommand(s, g),
		newPlanCommand(s, g),
		newApplyCommand(s, g),
		newVerifyCommand(s, g),
		newFactsCommand(s, g),
		newBundleCommand(s, g),
		newCloudInitCommand(s, g),
		newCacheCommand(s, g),
		newVersionCommand(s),
	)
	return root
}

func newVersionCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print nodeup's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := version
			if info, ok := debug.ReadBuildInfo(); ok && v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
				v = info.Main.Version
			}
			fmt.Fprintf(s.Out, "nodeup %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
