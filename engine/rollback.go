package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// Rollback keeps copies of what an apply is about to replace of a running
// unit's inputs (containerd's binaries, config and unit file), and puts
// them back when the unit does not come up verified on the new ones: the
// node goes back to what ran before, and the apply still fails.
type Rollback struct {
	g      *graph.Graph
	env    *steps.Env
	guards []*guard
}

// guard is what a rollback keeps for one unit.
type guard struct {
	unit   string
	inputs []string // the unit's inputs the plan changes
	files  []saved
	// What the state recorded of the changed artifacts before the apply,
	// and what the apply installs.
	before map[string]recorded
	after  map[string]state.Release
}

// saved is one node path as it was before the apply.
type saved struct {
	path     string
	exists   bool
	sum      string // the state's record of it, if recorded
	recorded bool
}

type recorded struct {
	a  state.Artifact
	ok bool
}

// RolledBack is what a rollback did.
type RolledBack struct {
	Unit string `json:"unit"`
	// Cause is what failed: the unit's start or restart, or verification.
	Cause string `json:"cause"`
	// Changed are the unit's inputs the apply had changed.
	Changed []string `json:"changed"`
	// Artifacts are the releases taken back.
	Artifacts []VersionChange `json:"artifacts,omitempty"`
	// Restored are the node paths put back as they were.
	Restored []string `json:"restored"`
	// Verify is the verification of the unit back on its old inputs.
	Verify *cri.Report `json:"verify,omitempty"`
	// Error is set when the rollback itself failed.
	Error string `json:"error,omitempty"`
}

// OK reports whether the node is back on what ran before, verified.
func (r RolledBack) OK() bool { return r.Error == "" && (r.Verify == nil || r.Verify.OK()) }

// PrepareRollback looks at the plan of an apply of g: for each unit the
// apply starts that is running now and whose inputs the plan changes, it
// copies those inputs under paths.RollbackDir. It returns nil when there
// is nothing to guard: a run that starts nothing, a unit not running now
// (there is nothing verified to go back to), or inputs that are packages
// (a package manager's upgrade is not nodeup's to take back).
func PrepareRollback(ctx context.Context, g *graph.Graph, env *steps.Env, planned []Result) (*Rollback, error) {
	if !env.StartsThings() {
		return nil, nil
	}
	changes := map[string]bool{}
	for _, r := range planned {
		if r.Err == nil && r.Changed() {
			changes[r.ID] = true
		}
	}
	h := env.Host
	if err := h.RemoveAll(paths.RollbackDir); err != nil {
		return nil, err
	}
	rb := &Rollback{g: g, env: env}
	for _, v := range g.Order() {
		s, ok := v.Action.(steps.Starter)
		if !ok {
			continue
		}
		unit, restartOn := s.Starts()
		if unit == "" {
			continue
		}
		gd, files, ok := rb.guardFor(unit, restartOn, changes)
		if !ok {
			continue
		}
		active, _, err := env.Systemd.ActiveState(ctx, unit)
		if err != nil {
			return nil, err
		}
		if active != "active" {
			continue
		}
		if gd.files, err = keepCopies(env, files); err != nil {
			return nil, err
		}
		rb.guards = append(rb.guards, gd)
	}
	if len(rb.guards) == 0 {
		return nil, h.RemoveAll(paths.RollbackDir)
	}
	return rb, nil
}

// guardFor is the guard of a unit whose inputs restartOn are, with the
// node paths to keep copies of; ok is false when the plan changes none of
// its inputs or one nodeup cannot take back.
func (rb *Rollback) guardFor(unit string, restartOn []string, changes map[string]bool) (gd *guard, files []string, ok bool) {
	gd = &guard{unit: unit, before: map[string]recorded{}, after: map[string]state.Release{}}
	for _, id := range restartOn {
		if !changes[id] {
			continue
		}
		gd.inputs = append(gd.inputs, id)
		s, isStep := stepOf(rb.g, id)
		if !isStep {
			continue
		}
		kept, undoable := steps.RollbackFilesOf(s)
		if !undoable {
			return nil, nil, false
		}
		files = append(files, kept...)
		if r, ok := s.(steps.Released); ok {
			name, release := r.Release()
			a, ok := rb.env.State.Artifact(name)
			gd.before[name] = recorded{a, ok}
			gd.after[name] = release
		}
	}
	return gd, files, len(gd.inputs) > 0
}

// keepCopies copies the node paths files under paths.RollbackDir and says
// what each was. Directories are left out: they are not inputs nodeup
// replaces.
func keepCopies(env *steps.Env, files []string) ([]saved, error) {
	var out []saved
	for _, p := range files {
		sv := saved{path: p}
		sv.sum, sv.recorded = env.State.Lookup(p)
		fi, err := env.Host.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		case fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0:
			sv.exists = true
			if err := env.Host.Copy(p, copyOf(p)); err != nil {
				return nil, fmt.Errorf("keep a copy of %s to go back to: %w", p, err)
			}
		default:
			continue
		}
		out = append(out, sv)
	}
	return out, nil
}

// copyOf is where the copy of node path p is kept.
func copyOf(p string) string { return path.Join(paths.RollbackDir, p) }

// Finish looks at the results of the apply: for each guarded unit whose
// inputs changed and that then failed to start or restart, or failed
// verification, it puts its old inputs back, restarts it and verifies it
// again. The state records the releases taken back. The copies are
// removed, unless a rollback failed. Finish on a nil Rollback does
// nothing.
func (rb *Rollback) Finish(ctx context.Context, results []Result) []RolledBack {
	if rb == nil {
		return nil
	}
	byID := map[string]Result{}
	for _, r := range results {
		byID[r.ID] = r
	}
	var out []RolledBack
	failed := false
	for _, gd := range rb.guards {
		var changed []string
		for _, id := range gd.inputs {
			if r := byID[id]; r.Err == nil && r.Changed() {
				changed = append(changed, id)
			}
		}
		sort.Strings(changed)
		cause := rb.cause(gd, byID)
		if len(changed) == 0 || cause == nil {
			continue
		}
		r := rb.rollBack(ctx, gd, changed, cause)
		failed = failed || r.Error != ""
		out = append(out, r)
	}
	if !failed {
		if err := rb.env.Host.RemoveAll(paths.RollbackDir); err != nil && rb.env.Warnf != nil {
			rb.env.Warnf("removing the rollback copies: %v", err)
		}
	}
	return out
}

// cause is the failure that makes a unit's inputs go back: its own start
// or restart, or the verification that depends on it. A step skipped
// because something else failed is no verdict on the new inputs.
func (rb *Rollback) cause(gd *guard, byID map[string]Result) error {
	var skipped *graph.SkippedError
	unitID := steps.UnitID(gd.unit)
	if err := byID[unitID].Err; err != nil {
		if errors.As(err, &skipped) {
			return nil
		}
		return err
	}
	if v := rb.g.Step(steps.VerifyID); v != nil && slices.Contains(v.Deps, unitID) {
		if err := byID[steps.VerifyID].Err; err != nil && !errors.As(err, &skipped) {
			return err
		}
	}
	return nil
}

// rollBack puts one unit's old inputs back, restarts and verifies it.
func (rb *Rollback) rollBack(ctx context.Context, gd *guard, changed []string, cause error) RolledBack {
	env, h := rb.env, rb.env.Host
	out := RolledBack{Unit: gd.unit, Cause: cause.Error(), Changed: changed}
	fail := func(err error) RolledBack {
		out.Error = fmt.Sprintf("%v; the copies of what ran before are in %s (by node path): put them back by hand, or apply the previous profile", err, paths.RollbackDir)
		return out
	}
	reload := false
	for _, sv := range gd.files {
		if sv.exists {
			if err := h.Copy(copyOf(sv.path), sv.path); err != nil {
				return fail(err)
			}
		} else if err := h.Remove(sv.path); err != nil {
			return fail(err)
		}
		if sv.recorded {
			env.State.Record(sv.path, sv.sum)
		} else {
			env.State.Forget(sv.path)
		}
		reload = reload || paths.IsUnitFile(sv.path)
		out.Restored = append(out.Restored, sv.path)
	}
	for _, name := range slices.Sorted(maps.Keys(gd.before)) {
		was, now := gd.before[name], gd.after[name]
		if !was.ok {
			env.State.PutArtifact(name, state.Artifact{}, false)
			continue
		}
		a := was.a
		a.RolledBack = &state.Failed{Release: now, Error: cause.Error(), Time: time.Now().UTC()}
		env.State.PutArtifact(name, a, true)
		out.Artifacts = append(out.Artifacts, VersionChange{Step: steps.ArtifactID(name), Name: name, From: now.Version, To: was.a.Version})
	}
	m := env.Systemd
	if reload {
		if err := m.DaemonReload(ctx); err != nil {
			return fail(err)
		}
	}
	if err := m.Restart(ctx, gd.unit); err != nil {
		return fail(err)
	}
	if err := systemd.WaitActive(ctx, m, gd.unit, steps.UnitStartTimeout); err != nil {
		return fail(err)
	}
	env.State.Restarted(gd.unit)
	if v := rb.g.Step(steps.VerifyID); v != nil && slices.Contains(v.Deps, steps.UnitID(gd.unit)) {
		verifier, ok := v.Action.(steps.Verifier)
		if !ok {
			return out
		}
		check := *env
		check.Verified = nil
		report, err := verifier.Run(ctx, &check)
		if err != nil {
			return fail(fmt.Errorf("verify %s after putting it back: %w", gd.unit, err))
		}
		out.Verify = &report
	}
	return out
}

// Summary says in one line what a rollback did.
func (r RolledBack) Summary() string {
	var back []string
	for _, a := range r.Artifacts {
		back = append(back, fmt.Sprintf("%s %s (from %s)", a.Name, a.To, a.From))
	}
	what := "its previous binaries, config and unit"
	if len(back) > 0 {
		what = strings.Join(back, ", ") + " with " + what
	}
	switch {
	case r.Error != "":
		return fmt.Sprintf("putting %s back on %s failed: %s", r.Unit, what, r.Error)
	case r.Verify != nil && !r.Verify.OK():
		return fmt.Sprintf("%s is back on %s and running, but does not verify either: %v", r.Unit, what, r.Verify.Err())
	case r.Verify != nil:
		return fmt.Sprintf("the node is back on %s: %s restarted and verified", what, r.Unit)
	}
	return fmt.Sprintf("the node is back on %s: %s restarted", what, r.Unit)
}
