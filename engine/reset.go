package engine

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// Reset takes nodeup's work off a node from its state alone: it stops and
// disables the units nodeup enabled, removes the files, binaries and trees
// it installed and wrote, puts back every file it backed up, removes the
// directories it created when they are empty, and finally its own state.
// A file changed since nodeup wrote it is someone's now: reset leaves it,
// and its backup. The download cache stays unless purged.

// What a reset step does.
const (
	ResetStop    = steps.RemovalStop    // a unit
	ResetDisable = steps.RemovalDisable // a unit, over D-Bus
	ResetUnlink  = steps.RemovalUnlink  // an [Install] link, without systemd running
	ResetRemove  = steps.RemovalRemove  // a file, a tree, a directory when empty, nodeup's own files
	ResetRestore = steps.RemovalRestore // a file from its backup
	ResetReload  = steps.RemovalReload  // systemd daemon-reload
	ResetKeep    = steps.RemovalKeep    // left as it is, and why
)

// ResetStep is one thing a reset does, or leaves (ResetKeep).
type ResetStep struct {
	Action string `json:"action"`
	Target string `json:"target"` // a unit or a node path
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`

	do func(ctx context.Context) error
}

// Changes reports whether the step changes the node.
func (s ResetStep) Changes() bool { return s.Action != ResetKeep }

// ResetPlan is what a reset will do, in order.
type ResetPlan struct {
	Steps []ResetStep
	env   *steps.Env
}

// Changes counts the steps that change the node.
func (p *ResetPlan) Changes() int {
	n := 0
	for _, s := range p.Steps {
		if s.Changes() {
			n++
		}
	}
	return n
}

// ResetOptions say what a reset removes beyond what the state records.
type ResetOptions struct {
	// Purge also removes the download cache.
	Purge bool
}

// PlanReset works out, from env's state and what is on the node now, what
// a reset does. It changes nothing. env.Systemd nil means systemd is not
// running (--root): units are disabled by removing their [Install] links.
// env.State must be read with the node's lock held.
func PlanReset(ctx context.Context, env *steps.Env, o ResetOptions) (*ResetPlan, error) {
	h, st := env.Host, env.State
	had, err := state.Exists(h)
	if err != nil {
		return nil, err
	}
	had = had || !st.Empty()
	p := &ResetPlan{env: env}
	if had {
		r := &resetPlanner{ResetPlan: p, snap: st.Snapshot(), covered: map[string]bool{}, removed: map[string]bool{}}
		if err := r.plan(ctx); err != nil {
			return nil, err
		}
	}
	if fi, err := h.Stat(paths.CacheDir); err == nil && fi.IsDir() {
		if o.Purge {
			p.add(ResetRemove, paths.CacheDir, "the download cache (--purge)", func(context.Context) error {
				return h.RemoveAll(paths.CacheDir)
			})
		} else if had {
			p.add(ResetKeep, paths.CacheDir, "the download cache; --purge removes it", nil)
		}
	}
	return p, nil
}

func (p *ResetPlan) add(action, target, detail string, do func(ctx context.Context) error) {
	p.Steps = append(p.Steps, ResetStep{Action: action, Target: target, Detail: detail, do: do})
}

// addAll adds the steps of removals.
func (p *ResetPlan) addAll(rs ...steps.Removal) {
	for _, r := range rs {
		p.add(r.Action, r.Target, r.Detail, r.Do)
	}
}

// resetPlanner is a reset being planned from the state.
type resetPlanner struct {
	*ResetPlan
	snap    state.Snapshot
	backups map[string]string // node path -> its first backup
	covered map[string]bool   // paths whose backup a file step restores or keeps
	removed map[string]bool   // tree members the reset removes
	reload  bool              // systemd must forget units or re-read unit files
}

func (r *resetPlanner) plan(ctx context.Context) error {
	env := r.env
	inferUnits(env, r.snap)
	if err := r.units(ctx); err != nil {
		return err
	}
	backups, later, err := steps.FirstBackups(env)
	if err != nil {
		return err
	}
	r.backups = backups
	if err := r.files(); err != nil {
		return err
	}
	if err := r.trees(); err != nil {
		return err
	}
	if err := r.restores(); err != nil {
		return err
	}
	for _, b := range later {
		r.add(ResetKeep, b, "a later file nodeup replaced; the first backup is the one put back", nil)
	}
	if env.Systemd != nil && r.reload {
		r.add(ResetReload, "systemd", "daemon-reload: forget the removed units", func(ctx context.Context) error {
			return env.Systemd.DaemonReload(ctx)
		})
	}
	r.dirs()
	r.add(ResetRemove, paths.StateDir, "nodeup's state, last apply, rollback copies and the backups put back", func(context.Context) error {
		return removeOwn(env, r.snap.Dirs)
	})
	return nil
}

// units plans stopping and disabling the units nodeup enabled; kubelet
// goes before containerd, which it runs on.
func (r *resetPlanner) units(ctx context.Context) error {
	names := make([]string, 0, len(r.snap.Units))
	for name := range r.snap.Units {
		names = append(names, name)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, name := range names {
		rs, reload, err := steps.UnitRemovals(ctx, r.env, name, r.snap.Units[name], true)
		if err != nil {
			return err
		}
		r.reload = r.reload || reload
		r.addAll(rs...)
	}
	return nil
}

// inferUnits adds to snap the units of the unit files nodeup wrote that a
// state from before units were recorded does not name: enabled and
// started by nodeup, with the links their [Install] section makes.
func inferUnits(env *steps.Env, snap state.Snapshot) {
	for f := range snap.Files {
		name := path.Base(f)
		if path.Dir(f) != paths.UnitDir || !strings.Contains(name, ".") {
			continue
		}
		if _, ok := snap.Units[name]; ok {
			continue
		}
		u := state.Unit{File: f, Start: true}
		if links, err := systemd.InstallLinks(env.Host, f, name); err == nil {
			for _, l := range links {
				u.Links = append(u.Links, l.Path)
			}
		}
		snap.Units[name] = u
	}
}

// Run does the plan's steps in order. A step that fails is reported and
// the rest still run, except the removal of nodeup's state: the state is
// saved with what was undone, so a second reset finishes the job.
func (p *ResetPlan) Run(ctx context.Context) error {
	var errs []error
	for i := range p.Steps {
		s := &p.Steps[i]
		if s.do == nil {
			continue
		}
		if len(errs) > 0 && s.Target == paths.StateDir {
			continue
		}
		if err := s.do(ctx); err != nil {
			s.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s %s: %w", s.Action, s.Target, err))
		}
	}
	if len(errs) == 0 {
		p.env.State = state.New() // as Load now finds it
		return nil
	}
	// What was undone is off the record; the rest stays for the next reset.
	snap := p.env.State.Snapshot()
	for name, a := range snap.Artifacts {
		gone := len(a.Files)+len(a.Trees) > 0
		for _, f := range a.Files {
			_, ok := snap.Files[f]
			gone = gone && !ok
		}
		for _, t := range a.Trees {
			_, ok := snap.Trees[t]
			gone = gone && !ok
		}
		if gone {
			p.env.State.ForgetArtifact(name)
		}
	}
	if err := p.env.State.Save(p.env.Host); err != nil {
		errs = append(errs, err)
	}
	return fmt.Errorf("reset did not finish; run nodeup reset again once the cause is fixed:\n%w", errors.Join(errs...))
}
