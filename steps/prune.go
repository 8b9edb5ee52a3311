package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nodeup/nodeup/node/paths"
)

// Prune takes off the node one thing the state records nodeup making that
// the profile no longer makes (engine.AddPrunes finds them): a file, put
// back from its backup when nodeup had replaced one; an artifact's files
// and trees; a unit, stopped and disabled with its unit files removed; a
// directory nodeup created, when empty. Its ID is the ID of the step that
// made the thing, so that a plan says
// "- file:/etc/containerd/certs.d/docker.io/hosts.toml: delete".
//
// The removals are reset's (see Removal): a file changed since nodeup
// wrote it is left, with a warning, and off nodeup's record. A kernel
// module or sysctl the profile dropped leaves its modules-load.d or
// sysctl.d file with that file's update; the step says that the running
// kernel keeps it until the next boot, and changes nothing itself.
type Prune struct {
	What string // the kind of the step that made it: PruneFile, PruneArtifact, ...
	Name string // its key: a node path, an artifact, a unit, a module, a sysctl
	// Files and Trees are the node paths it takes off: the file, an
	// artifact's files and trees, a unit's file and drop-ins.
	Files, Trees []string
	// Reload: systemd re-reads its units after this one (set on the last
	// unit pruned, so that one daemon-reload forgets them all).
	Reload bool
	// Value is what the running kernel keeps of a sysctl.
	Value string
}

// What a Prune takes off the node.
const (
	PruneFile     = "file"
	PruneArtifact = "artifact"
	PruneTree     = "tree"
	PruneUnit     = "unit"
	PruneDir      = "dir"
	PruneModule   = "module"
	PruneSysctl   = "sysctl"
)

// pruneReason starts every Prune's reason.
const pruneReason = "(no longer in the profile)"

func (p *Prune) Kind() string { return p.What }
func (p *Prune) Key() string  { return p.Name }
func (p *Prune) Describe() string {
	return fmt.Sprintf("%s %s: no longer in the profile, taken off the node", p.What, p.Name)
}

// Writes lists the node paths the step removes.
func (p *Prune) Writes() []string {
	if p.What == PruneDir {
		return []string{p.Name}
	}
	return append(slices.Clone(p.Files), p.Trees...)
}

// Check says what taking the thing off the node would do.
func (p *Prune) Check(ctx context.Context, env *Env) (Change, error) {
	rs, err := p.removals(ctx, env)
	if err != nil {
		return Change{}, err
	}
	p.warnKept(env, rs)
	return p.change(rs), nil
}

// warnKept says what the step leaves on the node.
func (p *Prune) warnKept(env *Env, rs []Removal) {
	for _, r := range rs {
		if r.Action == RemovalKeep {
			env.warnf("%s is no longer in the profile; %s: left as it is, and no longer nodeup's", r.Target, r.Detail)
		}
	}
}

// Apply takes the thing off the node and off the state; what it leaves
// (a file changed by hand) is warned about and is no longer nodeup's.
func (p *Prune) Apply(ctx context.Context, env *Env) (Change, error) {
	rs, err := p.removals(ctx, env)
	if err != nil {
		return Change{}, err
	}
	p.warnKept(env, rs)
	for _, r := range rs {
		if r.Do == nil {
			continue
		}
		if err := r.Do(ctx); err != nil {
			return Change{}, fmt.Errorf("%s %s: %w", r.Action, r.Target, err)
		}
	}
	p.forget(ctx, env)
	return p.change(rs), nil
}

// forget drops from the state what the step took off the node or left to
// others.
func (p *Prune) forget(ctx context.Context, env *Env) {
	st := env.State
	for _, f := range p.Files {
		st.Forget(f)
		if p.What == PruneFile {
			st.ForgetMember(f)
		}
	}
	for _, t := range p.Trees {
		st.ForgetTree(t)
	}
	switch p.What {
	case PruneArtifact:
		st.ForgetArtifact(p.Name)
	case PruneUnit:
		// A unit that would not stop stays on the record: the next run
		// stops it.
		if env.Systemd == nil || !env.StartsThings() {
			st.ForgetUnit(p.Name)
		} else if active, _, err := env.Systemd.ActiveState(ctx, p.Name); err == nil && (active == "inactive" || active == "failed") {
			st.ForgetUnit(p.Name)
		}
	case PruneDir:
		st.ForgetDir(p.Name)
	}
}

// removals are what taking the thing off the node takes, in order.
func (p *Prune) removals(ctx context.Context, env *Env) ([]Removal, error) {
	var rs []Removal
	switch p.What {
	case PruneModule, PruneSysctl:
		return nil, nil
	case PruneDir:
		if _, err := env.Host.Lstat(p.Name); err != nil {
			return nil, nil
		}
		return []Removal{DirRemoval(env, p.Name)}, nil
	case PruneUnit:
		if u, ok := env.State.Unit(p.Name); ok {
			urs, _, err := UnitRemovals(ctx, env, p.Name, u, env.StartsThings())
			if err != nil {
				return nil, err
			}
			rs = append(rs, urs...)
		}
	}
	backups, _, err := FirstBackups(env)
	if err != nil {
		return nil, err
	}
	owner := ""
	if p.What == PruneArtifact {
		if a, ok := env.State.Artifact(p.Name); ok {
			owner = strings.TrimSpace(p.Name + " " + a.Version)
		}
	}
	covered := map[string]bool{}
	for _, f := range p.Files {
		r, c, err := FileRemoval(env, f, backups[f], owner)
		if err != nil {
			return nil, err
		}
		covered[f] = c
		if r.Action != "" {
			rs = append(rs, r)
		}
	}
	for _, dir := range p.Trees {
		tree, ok := env.State.Tree(dir)
		if !ok {
			continue
		}
		trs, removed, err := TreeRemovals(env, dir, tree, owner)
		if err != nil {
			return nil, err
		}
		rs = append(rs, trs...)
		// What nodeup replaced in the tree goes back where the removal
		// leaves the place empty.
		for f, b := range backups {
			if !strings.HasPrefix(f, dir+"/") || covered[f] {
				continue
			}
			if _, err := env.Host.Lstat(f); err == nil && !slices.Contains(removed, f) {
				rs = append(rs, Removal{Action: RemovalKeep, Target: b, Detail: f + " exists and is not what nodeup installed there: not overwritten"})
				continue
			}
			rs = append(rs, Removal{Action: RemovalRestore, Target: f, Detail: "from " + b + ", the file nodeup replaced", Do: Restore(env, b, f)})
		}
	}
	if p.What == PruneUnit && p.Reload && env.Systemd != nil && slices.ContainsFunc(rs, func(r Removal) bool { return r.Do != nil }) {
		m := env.Systemd
		rs = append(rs, Removal{Action: RemovalReload, Target: "systemd", Detail: "daemon-reload: forget the removed units", Do: m.DaemonReload})
	}
	return rs, nil
}

// change says what the removals do: a delete, or nothing when all there
// is left is someone's (or gone).
func (p *Prune) change(rs []Removal) Change {
	switch p.What {
	case PruneModule:
		return Change{Action: Delete, Reason: pruneReason + ": off " + paths.ModulesLoad + "; the running kernel keeps it loaded until the next boot"}
	case PruneSysctl:
		return Change{Action: Delete, Reason: fmt.Sprintf("%s: off %s; the running kernel keeps %s = %s until the next boot", pruneReason, paths.Sysctl, p.Name, p.Value)}
	}
	var said []string
	does := false
	for _, r := range rs {
		does = does || r.Do != nil
		switch {
		case r.Action == RemovalRemove && r.Target == p.Name && p.What == PruneFile:
			// What a file's delete means.
		case r.Action == RemovalRemove && p.What == PruneDir:
			said = append(said, "remove if empty")
		case r.Action == RemovalRemove && p.What == PruneArtifact && !slices.Contains(p.Trees, r.Target):
			said = append(said, "remove "+r.Target)
		case r.Action == RemovalKeep, r.Action == RemovalRestore, r.Action == RemovalRemove:
			said = append(said, r.Action+" "+r.Target+" ("+r.Detail+")")
		default:
			said = append(said, r.Action+" "+r.Target)
		}
	}
	reason := pruneReason
	if len(said) > 0 {
		reason += ": " + strings.Join(said, ", ")
	}
	if !does {
		if len(rs) == 0 {
			reason += ": already gone"
		}
		return Change{Action: NoOp, Reason: reason}
	}
	return Change{Action: Delete, Reason: reason}
}
