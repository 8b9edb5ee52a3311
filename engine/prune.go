package engine

import (
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/templates"
)

// What leaves the profile leaves the node: AddPrunes adds to g a Prune
// step for everything env's state records nodeup making that no step of g
// makes any more: files, artifacts (their files and trees), trees, units
// (with their unit files and drop-ins), directories nodeup created, and
// the kernel modules and sysctls of nodeup's modules-load.d and sysctl.d
// files as nodeup wrote them. A reset is the same removals with no profile
// at all (PlanReset).
//
// Not pruned: the profile an image keeps for its boot (--phase bake keeps
// it, and the boot's own graph does not write it), packages (a package
// manager's install is not nodeup's to undo), and preloaded images, which
// nodeup keeps no record of apart from what pulled them and which pods may
// run on: the kubelet's image garbage collection removes them once unused.
//
// Order: a removed file that a unit reads (its unit file or a drop-in, a
// file beside its configuration) goes before that unit, which restarts on
// it (steps.Reader); everything else goes after the units that start, so
// that a service has left what is removed (containerd restarted on a
// config.toml without the kata handler before /opt/kata goes). Units go
// kubelet first, with one daemon-reload after the last; directories go
// last, deepest first, each only if it is empty by then.
func AddPrunes(g *graph.Graph, env *steps.Env) error {
	snap := env.State.Snapshot()
	inferUnits(env, snap)
	m := madeBy(g, snap)
	a := &pruner{g: g, made: m, claimed: map[string]bool{}}
	for _, v := range g.Order() {
		if s, ok := v.Action.(steps.Starter); ok {
			if service, _ := s.Starts(); service != "" {
				a.started = append(a.started, v.ID)
			}
		}
	}
	a.artifacts(snap)
	a.units(snap)
	for _, dir := range slices.Sorted(maps.Keys(snap.Trees)) {
		if !a.claimed[dir] && !m.makes(dir) {
			a.add(&steps.Prune{What: steps.PruneTree, Name: dir, Trees: []string{dir}}, a.started...)
		}
	}
	for _, f := range slices.Sorted(maps.Keys(snap.Files)) {
		if !a.claimed[f] && !m.makes(f) {
			a.file(f)
		}
	}
	a.kernel(env, snap)
	a.dirs(snap)
	return g.Validate()
}

// pruner adds the Prune steps of one graph.
type pruner struct {
	g       *graph.Graph
	made    made
	claimed map[string]bool // node paths a Prune takes care of
	started []string        // the steps that start a service
	others  []string        // the Prunes added so far
}

func (a *pruner) add(p *steps.Prune, after ...string) *graph.Step {
	s := a.g.Add(p, hcl.Range{}, after...)
	a.others = append(a.others, s.ID)
	for _, f := range p.Files {
		a.claimed[f] = true
	}
	for _, t := range p.Trees {
		a.claimed[t] = true
	}
	return s
}

// artifacts prunes the artifacts the graph no longer installs, with the
// files and trees they installed.
func (a *pruner) artifacts(snap state.Snapshot) {
	for _, name := range slices.Sorted(maps.Keys(snap.Artifacts)) {
		if a.g.Has(steps.ArtifactID(name)) {
			continue
		}
		rec := snap.Artifacts[name]
		p := &steps.Prune{What: steps.PruneArtifact, Name: name}
		for _, f := range slices.Sorted(maps.Keys(snap.Files)) {
			_, member := rec.Members[f]
			if (member || slices.Contains(rec.Files, f)) && !a.made.makes(f) {
				p.Files = append(p.Files, f)
			}
		}
		for _, t := range slices.Sorted(slices.Values(rec.Trees)) {
			if _, ok := snap.Trees[t]; ok && !a.made.makes(t) {
				p.Trees = append(p.Trees, t)
			}
		}
		a.add(p, a.started...)
	}
}

// units prunes the units the graph no longer enables, kubelet before
// containerd (which it runs on); the last one reloads systemd.
func (a *pruner) units(snap state.Snapshot) {
	var names []string
	for name := range snap.Units {
		if !a.g.Has(steps.UnitID(name)) {
			names = append(names, name)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	prev := ""
	for i, name := range names {
		u := snap.Units[name]
		p := &steps.Prune{What: steps.PruneUnit, Name: name, Reload: i == len(names)-1}
		for _, f := range slices.Sorted(maps.Keys(snap.Files)) {
			if (f == u.File || path.Dir(f) == paths.InUnitDir(name+".d")) && !a.claimed[f] && !a.made.makes(f) {
				p.Files = append(p.Files, f)
			}
		}
		prev = a.add(p, prev).ID
	}
}

// file prunes one file; a unit that reads it restarts on its removal.
func (a *pruner) file(f string) {
	p := &steps.Prune{What: steps.PruneFile, Name: f, Files: []string{f}}
	var readers []*graph.Step
	for _, v := range a.g.Order() {
		r, ok := v.Action.(steps.Reader)
		if !ok {
			continue
		}
		if r.Reads(f, a.triggers(v)) {
			readers = append(readers, v)
		}
	}
	if len(readers) == 0 {
		a.add(p, a.started...)
		return
	}
	id := a.add(p).ID
	for _, v := range readers {
		v.Action.(steps.Reader).RestartAlsoOn(id)
		v.After(id)
	}
}

// triggers are the node paths written by the steps a unit restarts on.
func (a *pruner) triggers(v *graph.Step) []string {
	var out []string
	if s, ok := v.Action.(steps.Starter); ok {
		_, restartOn := s.Starts()
		for _, id := range restartOn {
			if t, ok := stepOf(a.g, id); ok {
				out = append(out, t.Writes()...)
			}
		}
	}
	return out
}

// kernel prunes the modules and sysctls that nodeup's modules-load.d and
// sysctl.d files list, as nodeup wrote them, and the profile no longer
// does. The files' own steps rewrite them; the Prunes say what that means
// for the running kernel.
func (a *pruner) kernel(env *steps.Env, snap state.Snapshot) {
	read := func(p string) []byte {
		if _, ok := snap.Files[p]; !ok {
			return nil
		}
		if foreign, err := env.State.Foreign(env.Host, p); err != nil || foreign {
			return nil
		}
		b, _ := env.Host.ReadFile(p)
		return b
	}
	after := a.g.Step(steps.FileID(paths.ModulesLoad))
	for _, name := range templates.ModulesIn(read(paths.ModulesLoad)) {
		if !a.g.Has(steps.ModuleID(name)) && after != nil {
			a.add(&steps.Prune{What: steps.PruneModule, Name: name}, after.ID)
		}
	}
	after = a.g.Step(steps.FileID(paths.Sysctl))
	sysctls := templates.SysctlsIn(read(paths.Sysctl))
	for _, name := range slices.Sorted(maps.Keys(sysctls)) {
		if !a.g.Has(steps.SysctlID(name)) && after != nil {
			a.add(&steps.Prune{What: steps.PruneSysctl, Name: name, Value: sysctls[name]}, after.ID)
		}
	}
}

// dirs prunes the directories nodeup created that nothing of the graph is
// in, deepest first, after every other Prune.
func (a *pruner) dirs(snap state.Snapshot) {
	dirs := slices.Clone(snap.Dirs)
	sort.Slice(dirs, func(i, j int) bool {
		if x, y := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/"); x != y {
			return x > y
		}
		return dirs[i] < dirs[j]
	})
	after := slices.Clone(a.others)
	for _, d := range dirs {
		if a.made.holds(d) || a.g.Has(steps.DirID(d)) {
			continue
		}
		after = append(after, a.add(&steps.Prune{What: steps.PruneDir, Name: d}, after...).ID)
	}
}

// made is what the steps of a graph write, and what no Prune touches.
type made struct {
	exact map[string]bool
	// below are directories whose contents are made whole: an artifact
	// spreading every executable into one ("/opt/cni/bin/"), a tree it
	// installs, the profile kept for the boot and nodeup's own.
	below []string
	// written are the node paths written, for the directories they are in.
	written []string
}

func madeBy(g *graph.Graph, snap state.Snapshot) made {
	m := made{exact: map[string]bool{}, below: []string{paths.ProfileDir, paths.StateDir, paths.CacheDir}}
	for _, v := range g.Order() {
		s, ok := v.Action.(steps.Step)
		if !ok {
			continue
		}
		for _, p := range s.Writes() {
			if strings.HasSuffix(p, "/") {
				m.below = append(m.below, path.Clean(p))
				continue
			}
			p = path.Clean(p)
			m.exact[p] = true
			if _, tree := snap.Trees[p]; tree {
				m.below = append(m.below, p)
			}
		}
	}
	m.written = append(slices.Collect(maps.Keys(m.exact)), m.below...)
	return m
}

// makes reports whether node path p is written by the graph.
func (m made) makes(p string) bool {
	if m.exact[p] {
		return true
	}
	for _, d := range m.below {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// holds reports whether directory d is, or is above, something the graph
// writes.
func (m made) holds(d string) bool {
	for _, p := range m.written {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
