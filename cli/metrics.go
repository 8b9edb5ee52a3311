package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// addPlanDay2Flags adds plan's flags for upgrades (as apply's) and drift
// monitoring.
func addPlanDay2Flags(cmd *cobra.Command, o *planOptions) {
	addApplyDay2Flags(cmd, o)
	cmd.Flags().StringVar(&o.metricsFile, "metrics-file", "", "also write the drift, the last apply and a CRI verification to `PATH` (a path on this machine, not under --root) in node_exporter's textfile format, atomically")
}

// metricsVerifyWait bounds the wait for the runtime's socket in a plan
// that writes metrics: a runtime that is down is what the metric reports,
// not something to wait for.
const metricsVerifyWait = 10 * time.Second

// driftMetrics is what a plan tells monitoring.
type driftMetrics struct {
	planned            bool // the profile loaded and the plan ran
	drift, failed      int
	verified, verifyOK bool
	lastApply          state.LastApply
	applied            bool
	at                 time.Time
}

// planWithMetrics runs the plan and writes its metrics to o.metricsFile,
// also when the plan could not run (nodeup_plan_ok 0). The exit code is
// the plan's, unless the file cannot be written.
func (inv *invocation) planWithMetrics(path string, o planOptions) error {
	g := &inv.g
	file, err := filepath.Abs(o.metricsFile)
	if err != nil {
		return fmt.Errorf("--metrics-file %s: %w", o.metricsFile, err)
	}
	m := driftMetrics{at: time.Now()}
	o.metricsFile = ""
	o.planned = func(ctx context.Context, gr *graph.Graph, env *steps.Env, results []engine.Result) {
		c := count(inv.views(results, nil))
		m.planned, m.drift, m.failed = true, c.changes(), c.failed
		m.verified, m.verifyOK = verifyForMetrics(ctx, gr, env)
	}
	runErr := inv.runGraph(path, false, o)
	if h, err := host.New(g.root); err == nil {
		m.lastApply, m.applied, _ = state.ReadLastApply(h)
	}
	local, err := host.New("/")
	if err != nil {
		return err
	}
	if err := local.WriteFile(file, []byte(m.text()), 0o644); err != nil {
		return fmt.Errorf("--metrics-file: %w", err)
	}
	return runErr
}

// verifyForMetrics asks the runtime over CRI, as apply's last step does,
// where this run may talk to it; verified is false where it may not.
func verifyForMetrics(ctx context.Context, gr *graph.Graph, env *steps.Env) (verified, ok bool) {
	found := steps.VerifyOf(gr)
	if found == nil || !env.StartsThings() {
		return false, false
	}
	v := *found
	v.Timeout = min(v.Timeout, metricsVerifyWait)
	check := *env
	check.Verified = nil
	report, err := v.Run(ctx, &check)
	if err == nil {
		err = report.Err()
	}
	if err != nil {
		env.Warnf("verification for --metrics-file: %v", err)
		return true, false
	}
	return true, true
}

// text is the metrics in the Prometheus text format node_exporter's
// textfile collector reads. Values that are not known are left out.
func (m driftMetrics) text() string {
	var b strings.Builder
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, strconv.FormatFloat(v, 'f', -1, 64))
	}
	bit := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	gauge("nodeup_plan_ok", "1 when the plan ran: the profile loaded and every step could be checked.", bit(m.planned && m.failed == 0))
	gauge("nodeup_plan_timestamp_seconds", "When this plan ran, in seconds since the epoch.", float64(m.at.Unix()))
	if m.planned {
		gauge("nodeup_drift_steps", "Steps an apply would change: 0 when the node matches its profile.", float64(m.drift))
		gauge("nodeup_plan_failed_steps", "Steps whose check failed.", float64(m.failed))
	}
	if m.applied {
		gauge("nodeup_last_apply_timestamp_seconds", "When the last nodeup apply ran, in seconds since the epoch.", float64(m.lastApply.Time.Unix()))
		gauge("nodeup_last_apply_ok", "1 when the last apply converged and verified the node.", bit(m.lastApply.OK))
	}
	if m.verified {
		gauge("nodeup_verify_ok", "1 when the runtime passed nodeup's CRI verification during this plan.", bit(m.verifyOK))
	}
	return b.String()
}
