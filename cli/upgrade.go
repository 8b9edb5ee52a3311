package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/templates"
)

// addApplyDay2Flags adds the flags for upgrades, of apply and of the plan
// that shows what it would do.
func addApplyDay2Flags(cmd *cobra.Command, o *planOptions) {
	cmd.Flags().BoolVar(&o.allowDowngrade, "allow-downgrade", false, "move containerd to a release older than the node's even when it reads an older config schema")
}

// configSchema is the config.toml schema a containerd release reads.
func configSchema(artifact, version string) int {
	if artifact != "containerd" {
		return 0
	}
	v, err := templates.ConfigVersionFor(version)
	if err != nil {
		return 0
	}
	return v
}

// checkVersions refuses an apply that moves containerd to a release
// reading an older config schema, unless allowed; a plan warns of it. An
// apply logs the releases it moves.
func checkVersions(gr *graph.Graph, env *steps.Env, apply, allow bool) error {
	var errs []error
	for _, d := range engine.SchemaDowngrades(gr, env.State, configSchema) {
		switch {
		case !apply && !allow:
			env.Warnf("%v; apply will refuse it", d)
		case allow:
			env.Warnf("%s: %s %s -> %s goes back across config schemas (version %d -> %d), as --allow-downgrade allows", d.Step, d.Name, d.From, d.To, d.FromSchema, d.ToSchema)
		default:
			errs = append(errs, d)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if apply {
		for _, c := range engine.VersionChanges(gr, env.State) {
			verb := "downgrade"
			if c.Upgrade() {
				verb = "upgrade"
			}
			env.Logf("%s %s %s -> %s", verb, c.Name, c.From, c.To)
		}
	}
	return nil
}

// printRollback shows what each rollback did.
func printRollback(w io.Writer, rolled []engine.RolledBack) {
	for _, r := range rolled {
		fmt.Fprintf(w, "\nRollback: %s did not come up verified after this apply changed %s:\n", r.Unit, strings.Join(r.Changed, ", "))
		// The failure itself, with the unit's journal, is shown above.
		fmt.Fprintf(w, "    %s\n", firstLine(r.Cause))
		for _, a := range r.Artifacts {
			fmt.Fprintf(w, "  %s: back from %s to %s\n", a.Step, a.From, a.To)
		}
		for _, p := range r.Restored {
			fmt.Fprintf(w, "  put back %s\n", p)
		}
		if r.Verify != nil {
			fmt.Fprintf(w, "Verification after the rollback:\n")
			_ = r.Verify.Table(w)
		}
		fmt.Fprintf(w, "%s.\n", upperFirst(r.Summary()))
	}
}

// rollbackError is the error of an apply that was rolled back.
func rollbackError(rolled []engine.RolledBack) error {
	var parts []string
	for _, r := range rolled {
		parts = append(parts, fmt.Sprintf("%s failed after this apply changed it (%s); %s", r.Unit, firstLine(r.Cause), r.Summary()))
	}
	return errors.New(strings.Join(parts, "\n"))
}

// recordApply notes when the apply ran and how it ended, for the drift
// metrics and nodeup state.
func recordApply(env *steps.Env, c counts, report *cri.Report, rolled []engine.RolledBack) {
	l := state.LastApply{Time: time.Now().UTC(), OK: c.failed == 0 && len(rolled) == 0, Changed: c.changes(), Failed: c.failed,
		Verified: report != nil && report.OK(), RolledBack: len(rolled) > 0}
	if err := state.WriteLastApply(env.Host, l); err != nil {
		env.Warnf("recording the apply: %v", err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
