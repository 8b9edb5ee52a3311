package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	ResetStop    = "stop"    // a unit
	ResetDisable = "disable" // a unit, over D-Bus
	ResetUnlink  = "unlink"  // an [Install] link, without systemd running
	ResetRemove  = "remove"  // a file, a tree, a directory when empty, nodeup's own files
	ResetRestore = "restore" // a file from its backup
	ResetReload  = "reload"  // systemd daemon-reload
	ResetKeep    = "keep"    // left as it is, and why
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
	backups, later, err := backupsOf(env)
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
	env, h, snap, add := r.env, r.env.Host, r.snap, r.add
	names := make([]string, 0, len(snap.Units))
	for name := range snap.Units {
		names = append(names, name)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, name := range names {
		u := snap.Units[name]
		if m := env.Systemd; m != nil {
			active, _, err := m.ActiveState(ctx, name)
			if err != nil {
				return err
			}
			if active != "inactive" && active != "failed" {
				add(ResetStop, name, "is "+active, func(ctx context.Context) error { return m.Stop(ctx, name) })
			}
			if u.EnabledBefore {
				add(ResetKeep, name, "enabled: it was enabled before nodeup", nil)
				continue
			}
			enabled, err := m.IsEnabled(ctx, name)
			if err != nil {
				return err
			}
			if enabled {
				r.reload = true
				add(ResetDisable, name, "", func(ctx context.Context) error {
					if err := m.Disable(ctx, name); err != nil {
						return err
					}
					// Off the record once it is also stopped: a unit that
					// would not stop is stopped by the next reset.
					if active, _, err := m.ActiveState(ctx, name); err == nil && (active == "inactive" || active == "failed") {
						env.State.ForgetUnit(name)
					}
					return nil
				})
			}
			continue
		}
		if u.EnabledBefore {
			add(ResetKeep, name, "enabled: it was enabled before nodeup", nil)
			continue
		}
		for _, l := range u.Links {
			if !paths.Writable(l) || !linksTo(env, l, name) {
				continue
			}
			add(ResetUnlink, l, "enables "+name, func(context.Context) error { return h.Remove(l) })
		}
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

// linksTo reports whether node path l is a symlink to a unit file named
// unit: an [Install] link that enabling it made.
func linksTo(env *steps.Env, l, unit string) bool {
	fi, err := env.Host.Lstat(l)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	target, err := env.Host.Readlink(l)
	return err == nil && path.Base(target) == unit
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
