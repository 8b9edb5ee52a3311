package ops

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// metricsVerifyWait bounds the wait for the runtime's socket in a plan
// that writes metrics: a runtime that is down is what the metric reports,
// not something to wait for.
const metricsVerifyWait = 10 * time.Second

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

// DriftMetrics is what a plan tells monitoring.
type DriftMetrics struct {
	Planned            bool // the profile loaded and the plan ran
	Drift, Failed      int
	Verified, VerifyOK bool
	LastApply          state.LastApply
	Applied            bool // an apply recorded how it ended
	At                 time.Time
}

// WriteDriftMetrics writes, atomically, the metrics of plan report r (nil
// when the plan could not run) and of the node's last apply to file, a path
// on this machine (not under the root), in node_exporter's textfile format.
func WriteDriftMetrics(c *Config, file string, r *PlanReport, at time.Time) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("--metrics-file %s: %w", file, err)
	}
	m := DriftMetrics{At: at}
	if r != nil {
		m.Planned, m.Drift, m.Failed = true, changed(r.Results), failed(r.Results)
		m.Verified, m.VerifyOK = r.Verified, r.VerifyOK
	}
	if h, err := host.New(c.Root); err == nil {
		m.LastApply, m.Applied, _ = state.ReadLastApply(h)
	}
	local, err := host.New("/")
	if err != nil {
		return err
	}
	if err := local.WriteFile(abs, []byte(m.Text()), 0o644); err != nil {
		return fmt.Errorf("--metrics-file: %w", err)
	}
	return nil
}

// Text is the metrics in the Prometheus text format node_exporter's
// textfile collector reads. Values that are not known are left out.
func (m DriftMetrics) Text() string {
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
	gauge("nodeup_plan_ok", "1 when the plan ran: the profile loaded and every step could be checked.", bit(m.Planned && m.Failed == 0))
	gauge("nodeup_plan_timestamp_seconds", "When this plan ran, in seconds since the epoch.", float64(m.At.Unix()))
	if m.Planned {
		gauge("nodeup_drift_steps", "Steps an apply would change: 0 when the node matches its profile.", float64(m.Drift))
		gauge("nodeup_plan_failed_steps", "Steps whose check failed.", float64(m.Failed))
	}
	if m.Applied {
		gauge("nodeup_last_apply_timestamp_seconds", "When the last nodeup apply ran, in seconds since the epoch.", float64(m.LastApply.Time.Unix()))
		gauge("nodeup_last_apply_ok", "1 when the last apply converged and verified the node.", bit(m.LastApply.OK && m.LastApply.Verified))
		gauge("nodeup_last_apply_verified", "1 when the last apply verified the node over CRI (an image bake converges without verifying).", bit(m.LastApply.Verified))
	}
	if m.Verified {
		gauge("nodeup_verify_ok", "1 when the runtime passed nodeup's CRI verification during this plan.", bit(m.VerifyOK))
	}
	return b.String()
}
