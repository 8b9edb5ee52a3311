package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/converge"
	"github.com/nodeup/nodeup/templates"
)

// CacheDir is nodeup's verified download cache on the node.
const CacheDir = "/var/cache/nodeup"

// redactor replaces the values of sensitive variables in everything it
// writes, so they never reach a terminal, a log or JSON.
type redactor struct {
	w       io.Writer
	secrets []string
}

func (r redactor) Write(b []byte) (int, error) {
	s := string(b)
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "(sensitive)")
	}
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(b), nil
}

// lockedWriter serialises writes to a stream: steps run in parallel and
// log, warn and show download progress at once, and an injected stream (a
// test's buffer) need not be safe for concurrent use.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// terminal is isTerminal seen through the wrappers above, so a progress
// bar and colours survive serialising and redaction.
func terminal(w io.Writer) bool {
	for {
		switch x := w.(type) {
		case lockedWriter:
			w = x.w
		case redactor:
			w = x.w
		default:
			return isTerminal(w)
		}
	}
}

// serialized makes the outputs safe for concurrent use; they share one
// lock, as they may be one writer.
func serialized(s Streams) Streams {
	mu := &sync.Mutex{}
	return Streams{In: s.In, Out: lockedWriter{mu, s.Out}, Err: lockedWriter{mu, s.Err}}
}

func redacted(s Streams, secrets []string) Streams {
	if len(secrets) == 0 {
		return s
	}
	forms := secretForms(secrets)
	return Streams{In: s.In, Out: redactor{s.Out, forms}, Err: redactor{s.Err, forms}}
}

// secretForms lists how sensitive values can be spelled in output: as
// given; as a unit file holds them ("%" and "$" doubled, and backslashes
// and quotes escaped, as templates' execQuote writes an ExecStart
// argument); and each of those as a JSON string escapes it ("&", "<", ">",
// quotes, control characters). Longer forms come first, so no part of one
// survives the replacement of a shorter one.
func secretForms(secrets []string) []string {
	seen := map[string]bool{}
	var forms []string
	for _, secret := range secrets {
		// As written into the kubelet drop-in: escaped, and quoted.
		unit := templates.EscapeSpecifiers(secret)
		for _, f := range []string{secret, unit, templates.EscapeQuoted(unit)} {
			b, _ := json.Marshal(f)
			for _, form := range []string{f, string(b[1 : len(b)-1])} {
				if form != "" && !seen[form] {
					seen[form] = true
					forms = append(forms, form)
				}
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return forms
}

// signalContext is cancelled by SIGINT and SIGTERM, so an interrupted
// apply stops between atomic steps.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func parsePhase(p string) (converge.Phase, error) {
	switch converge.Phase(p) {
	case converge.PhaseBake, converge.PhaseBoot, converge.PhaseAll:
		return converge.Phase(p), nil
	}
	return "", fmt.Errorf("--phase %q: use bake, boot or all", p)
}

// newEnv opens the host behind --root and the services a run may use.
func newEnv(ctx context.Context, s Streams, g *globalOptions) (*converge.Env, func(), error) {
	phase, err := parsePhase(g.phase)
	if err != nil {
		return nil, nil, err
	}
	h, err := host.New(g.root)
	if err != nil {
		return nil, nil, err
	}
	state, err := host.LoadState(h)
	if err != nil {
		return nil, nil, err
	}
	logf := func(format string, args ...any) { logLine(s.Err, g.logFormat, "info", fmt.Sprintf(format, args...)) }
	env := &converge.Env{
		Host:  h,
		State: state,
		Phase: phase,
		Logf:  logf,
		Warnf: onceEach(func(msg string) { logLine(s.Err, g.logFormat, "warning", msg) }),
		Packages: func() (pkgmgr.Manager, error) {
			return pkgmgr.Detect(h)
		},
	}
	cleanup := func() {}
	if g.root == "/" {
		env.Kernel = kernel.Local()
	}
	if systemd.Running(g.root) {
		m, err := systemd.NewDBus(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("systemd runs here but its D-Bus API does not answer: %w; check that dbus.service is running", err)
		}
		env.Systemd = m
		cleanup = func() { m.Close() }
	}
	if err := h.MkdirAll(CacheDir, 0o755); err != nil {
		return nil, nil, err
	}
	cache, err := h.Path(CacheDir)
	if err != nil {
		return nil, nil, err
	}
	env.Fetcher = &fetch.Fetcher{CacheDir: cache, Progress: s.Err, IsTerminal: terminal(s.Err), Log: logf}
	return env, cleanup, nil
}

// onceEach prints each distinct warning once per run: the plan pass and the
// apply pass meet the same kernel limits.
func onceEach(print func(msg string)) func(format string, args ...any) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		mu.Lock()
		defer mu.Unlock()
		if !seen[msg] {
			seen[msg] = true
			print(msg)
		}
	}
}

func logLine(w io.Writer, format, level, msg string) {
	if format == "json" {
		b, _ := json.Marshal(map[string]string{"time": time.Now().UTC().Format(time.RFC3339), "level": level, "msg": msg})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", level, msg)
}

// counts summarises results.
type counts struct{ create, update, noop, skip, failed int }

func count(results []converge.Result) counts {
	var c counts
	for _, r := range results {
		switch {
		case r.Err != nil:
			c.failed++
		case r.Outcome == converge.Create:
			c.create++
		case r.Outcome == converge.Update:
			c.update++
		case r.Outcome == converge.Skip:
			c.skip++
		default:
			c.noop++
		}
	}
	return c
}

func (c counts) changes() int { return c.create + c.update }

var marks = map[converge.Outcome]string{converge.Create: "+", converge.Update: "~", converge.NoOp: "=", converge.Skip: "-"}

// printPlan shows each step that changes, with its diff, then a summary.
func printPlan(w io.Writer, results []converge.Result, verbose bool) {
	for _, r := range results {
		if r.Err != nil {
			continue
		}
		if !r.Changed() && !verbose {
			continue
		}
		fmt.Fprintf(w, "%s %s: %s %s\n", marks[r.Outcome], r.ID, r.Outcome, r.Reason)
		if r.Diff != "" {
			for _, line := range strings.Split(strings.TrimRight(r.Diff, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
	printFailures(w, results)
	c := count(results)
	fmt.Fprintf(w, "Plan: %d to create, %d to update, %d unchanged, %d skipped, %d failed.\n", c.create, c.update, c.noop, c.skip, c.failed)
}

// printFailures names each failed step with its error and profile line;
// steps skipped because of it say so in one line.
func printFailures(w io.Writer, results []converge.Result) {
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		var skipped *graph.SkippedError
		if errors.As(r.Err, &skipped) {
			fmt.Fprintf(w, "! %s: not run, because %s failed\n", r.ID, skipped.Cause)
			continue
		}
		fmt.Fprintf(w, "✗ %s failed", r.ID)
		if r.Source != "" {
			fmt.Fprintf(w, " (from %s)", r.Source)
		}
		fmt.Fprintf(w, ":\n    %s\n", strings.ReplaceAll(r.Err.Error(), "\n", "\n    "))
	}
}

type planOptions struct {
	detailedExitcode bool
	verbose          bool
	wait             bool
}

// runGraph loads a profile, locks the node for an apply, and runs the graph.
func runGraph(s Streams, g *globalOptions, path string, apply bool, o planOptions) error {
	p, files, err := loadProfileFiles(s, g, path)
	if err != nil {
		return err
	}
	s = redacted(serialized(s), p.Sensitive)
	if err := checkHost(s, g, p, files); err != nil {
		return err
	}
	if p.Node.OS == profile.OSWindows {
		return fmt.Errorf("%s: node.os = \"windows\" is render-only; use nodeup render", path)
	}
	graph, err := plan.Build(p)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	env, cleanup, err := newEnv(ctx, s, g)
	if err != nil {
		return err
	}
	defer cleanup()
	h := env.Host
	if apply {
		release, err := h.Lock(ctx, o.wait)
		if err != nil {
			return err
		}
		defer release()
		// Read the state only with the lock held: a nodeup we waited for
		// has changed it, and a stale state would take its files for
		// someone else's.
		if env.State, err = host.LoadState(h); err != nil {
			return err
		}
		// A killed apply leaves temporary files beside what it was writing;
		// with the lock held, none of them belongs to a running nodeup.
		removed, err := h.Sweep(leftoverDirs(graph)...)
		if len(removed) > 0 {
			env.Logf("removed %d leftovers of an interrupted run: %s", len(removed), strings.Join(removed, ", "))
		}
		if err != nil {
			env.Warnf("removing leftovers of an interrupted run: %v", err)
		}
	}
	var report *cri.Report
	env.Verified = func(r cri.Report) { report = &r }
	// A failed save here fails the final save below, which reports it.
	env.Checkpoint = func() { _ = env.State.Save(h) }

	start := time.Now()
	planned := converge.Run(ctx, graph, env, false, g.parallelism)
	if !apply {
		c := count(planned)
		if g.json {
			if err := writeJSON(s.Out, map[string]any{"steps": planned, "summary": summary(c)}); err != nil {
				return err
			}
		} else {
			printPlan(s.Out, planned, o.verbose)
		}
		if c.failed > 0 {
			return errReported
		}
		if o.detailedExitcode && c.changes() > 0 {
			return exitError{code: 2}
		}
		return nil
	}
	if !g.json {
		printPlan(s.Out, planned, o.verbose)
		fmt.Fprintln(s.Out)
	}
	results := converge.Run(ctx, graph, env, true, g.parallelism)
	saveErr := env.State.Save(h)
	elapsed := time.Since(start)
	c := count(results)
	if g.json {
		out := map[string]any{"steps": results, "summary": summary(c), "seconds": elapsed.Seconds()}
		if report != nil {
			out["verify"] = report
		}
		if err := writeJSON(s.Out, out); err != nil {
			return err
		}
	} else {
		printApply(s.Out, results, report, elapsed)
	}
	if saveErr != nil {
		return saveErr
	}
	if c.failed > 0 {
		return errReported
	}
	return nil
}

// checkHost reports what the profile meets on this host (CheckHost). Only
// when the root is "/" is the running kernel the node's; under --root it is
// the image builder's, so nothing is checked.
func checkHost(s Streams, g *globalOptions, p *profile.Profile, files map[string]*hcl.File) error {
	if g.root != "/" {
		return nil
	}
	h, err := host.New("/")
	if err != nil {
		return err
	}
	f := facts.Gather(h, true)
	diags := plan.CheckHost(p, plan.HostFacts{KVM: f.KVM, CgroupV1: f.Cgroup.Version == "v1"})
	if len(diags) > 0 {
		printDiagnostics(s.Err, files, diags, !g.noColor && terminal(s.Err))
	}
	if diags.HasErrors() {
		return errReported
	}
	return nil
}

// printApply shows what the apply changed, what failed, the verification
// and a summary line.
func printApply(w io.Writer, results []converge.Result, report *cri.Report, elapsed time.Duration) {
	for _, r := range results {
		if r.Err == nil && r.Changed() {
			fmt.Fprintf(w, "%s %s: %s (%s) %s\n", marks[r.Outcome], r.ID, r.Outcome, r.Duration.Round(time.Millisecond), r.Reason)
		}
	}
	printFailures(w, results)
	if report != nil {
		fmt.Fprintln(w, "\nVerification:")
		_ = report.Table(w)
	}
	c := count(results)
	fmt.Fprintf(w, "Apply: %d created, %d updated, %d unchanged, %d skipped, %d failed in %s.\n",
		c.create, c.update, c.noop, c.skip, c.failed, elapsed.Round(time.Millisecond))
}

// leftoverDirs are the node directories where an interrupted apply of g may
// have left temporary files or staging directories: beside every file and
// tree it installs and their backups, beside unit links, the state and the
// download cache.
func leftoverDirs(g *graph.Graph) []string {
	dirs := []string{path.Dir(host.StatePath), CacheDir, path.Join(CacheDir, "sha256")}
	beside := func(p string) {
		dirs = append(dirs, path.Dir(p), path.Join(host.BackupDir, path.Dir(p)))
	}
	for _, s := range g.Order() {
		switch a := s.Action.(type) {
		case *steps.File:
			beside(a.Path)
		case *steps.Artifact:
			for _, p := range a.Paths() {
				beside(p)
			}
		case *steps.Unit:
			for _, target := range a.WantedBy {
				dirs = append(dirs, path.Join("/etc/systemd/system", target+".wants"))
			}
		}
	}
	return dirs
}

func summary(c counts) map[string]int {
	return map[string]int{"create": c.create, "update": c.update, "unchanged": c.noop, "skipped": c.skip, "failed": c.failed}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPlanCommand(s Streams, g *globalOptions) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan PROFILE",
		Short: "Show what apply would change on this host, with diffs",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runGraph(s, g, args[0], false, o)
		},
	}
	cmd.Flags().BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 0 with no changes, 2 with changes, 1 on error")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show unchanged steps too")
	return cmd
}

func newApplyCommand(s Streams, g *globalOptions) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "apply PROFILE",
		Short: "Converge the host to the profile, then verify",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runGraph(s, g, args[0], true, o)
		},
	}
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait for another nodeup holding the lock instead of failing")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "show unchanged steps too")
	return cmd
}

func newVerifyCommand(s Streams, g *globalOptions) *cobra.Command {
	var endpoint string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "verify [PROFILE]",
		Short: "Check the runtime over CRI (and the CNI plugins)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			v := &steps.Verify{Endpoint: "unix://" + plan.DefaultSocket, Timeout: timeout}
			if len(args) == 1 {
				_, graph, err := loadGraph(s, g, args[0])
				if err != nil {
					return err
				}
				if st := graph.Step(plan.VerifyID); st != nil {
					v = st.Action.(*steps.Verify)
				}
			}
			if endpoint != "" {
				v.Endpoint = endpoint
			}
			ctx, cancel := signalContext()
			defer cancel()
			h, err := host.New(g.root)
			if err != nil {
				return err
			}
			report, err := converge.Verify(ctx, &converge.Env{Host: h}, v)
			if err != nil {
				return err
			}
			if g.json {
				if err := writeJSON(s.Out, report); err != nil {
					return err
				}
			} else {
				_ = report.Table(s.Out)
			}
			if !report.OK() {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "CRI endpoint (default: the profile's, or unix:///run/containerd/containerd.sock)")
	cmd.Flags().DurationVar(&timeout, "timeout", plan.DefaultVerifyWait, "how long to wait for the socket without a profile")
	return cmd
}

func newFactsCommand(s Streams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "facts",
		Short: "Show what nodeup detects about the host",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			h, err := host.New(g.root)
			if err != nil {
				return err
			}
			f := facts.Gather(h, g.root == "/")
			if g.json {
				return writeJSON(s.Out, f)
			}
			return f.Table(s.Out)
		},
	}
}
