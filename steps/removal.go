package steps

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
	"syscall"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
)

// Taking nodeup's work off a node, one recorded thing at a time: the same
// removals make `nodeup reset` (everything the state records) and the
// Prune steps of an apply (what the profile no longer makes). Each works
// from the state, which anyone with root may have edited: nothing outside
// what nodeup could have written (paths.Writable) is removed, and a file
// changed since nodeup wrote it is someone's now and stays.

// Removal is one thing taking nodeup's work off the node does, or leaves
// (RemovalKeep, with why).
type Removal struct {
	Action string
	Target string // a unit or a node path
	Detail string
	// Do makes the removal and drops it from the state; nil for a keep.
	Do func(ctx context.Context) error
}

// What a removal does.
const (
	RemovalStop    = "stop"    // a unit
	RemovalDisable = "disable" // a unit, over D-Bus
	RemovalUnlink  = "unlink"  // an [Install] link, without systemd running
	RemovalRemove  = "remove"  // a file, a tree, a directory when empty
	RemovalRestore = "restore" // a file from its backup
	RemovalReload  = "reload"  // systemd daemon-reload
	RemovalKeep    = "keep"    // left as it is, and why
)

// NotNodeups is why a removal leaves a path the state lists but nodeup
// could not have written (see paths.Writable): the state file is only a
// file.
const NotNodeups = "not a place nodeup writes: left alone, whatever state.json says"

// FileRemoval plans taking node file f off the node: removed when it is as
// nodeup wrote it, put back from backup (its first backup, "" for none)
// when nodeup had replaced a file there, left when it changed since nodeup
// wrote it. owner names the artifact release that installed it, if any.
// covered says the backup is dealt with (put back, or kept beside the
// changed file). A zero Removal: nothing to do (f is gone, no backup).
func FileRemoval(env *Env, f, backup, owner string) (r Removal, covered bool, err error) {
	h := env.Host
	if !paths.Writable(f) {
		return Removal{Action: RemovalKeep, Target: f, Detail: NotNodeups}, false, nil
	}
	if _, err := h.Lstat(f); errors.Is(err, fs.ErrNotExist) {
		if backup != "" {
			return Removal{Action: RemovalRestore, Target: f, Detail: "from " + backup + " (nodeup's file is gone)", Do: Restore(env, backup, f)}, true, nil
		}
		return Removal{}, false, nil
	} else if err != nil {
		return Removal{}, false, err
	}
	changed, err := env.State.Foreign(h, f)
	if err != nil {
		return Removal{}, false, err
	}
	if changed {
		detail := "changed since nodeup wrote it"
		if backup != "" {
			detail += "; the file it replaced stays in " + backup
		}
		return Removal{Action: RemovalKeep, Target: f, Detail: detail}, backup != "", nil
	}
	if backup != "" {
		return Removal{Action: RemovalRestore, Target: f, Detail: "from " + backup + ", the file nodeup replaced", Do: Restore(env, backup, f)}, true, nil
	}
	detail := "written by nodeup"
	if owner != "" {
		detail = "installed with " + owner
	}
	return Removal{Action: RemovalRemove, Target: f, Detail: detail, Do: func(context.Context) error {
		if err := h.Remove(f); err != nil {
			return err
		}
		env.State.Forget(f)
		return nil
	}}, false, nil
}

// TreeRemovals plans removing what nodeup installed in the tree at node
// directory dir (kata's /opt/kata), member by member: what someone added or
// changed there stays. removed lists the members the removal takes away.
func TreeRemovals(env *Env, dir string, tree state.Tree, owner string) (rs []Removal, removed []string, err error) {
	if !paths.Writable(dir) {
		return []Removal{{Action: RemovalKeep, Target: dir, Detail: NotNodeups}}, nil, nil
	}
	var intact, changed []string
	for _, rel := range slices.Sorted(maps.Keys(tree)) {
		m := path.Join(dir, rel)
		if !strings.HasPrefix(m, dir+"/") || path.IsAbs(rel) || path.Clean(rel) != rel {
			rs = append(rs, Removal{Action: RemovalKeep, Target: m, Detail: NotNodeups + " (a member outside its tree)"})
			continue
		}
		why, err := MemberDrift(env.Host, m, tree[rel])
		if err != nil {
			return nil, nil, err
		}
		switch {
		case strings.HasSuffix(why, " is missing"):
		case why != "":
			changed = append(changed, m)
		default:
			intact = append(intact, m)
		}
	}
	if owner != "" {
		owner += ": "
	}
	rm := Removal{Action: RemovalRemove, Target: dir, Detail: fmt.Sprintf("%s%d files and links nodeup installed", owner, len(intact)), Do: func(context.Context) error {
		for _, m := range intact {
			if err := env.Host.Remove(m); err != nil {
				return err
			}
		}
		if err := RemoveEmptyDirs(env, dir); err != nil {
			return err
		}
		env.State.ForgetTree(dir)
		return nil
	}}
	rs = append(rs, rm)
	for _, m := range changed {
		rs = append(rs, Removal{Action: RemovalKeep, Target: m, Detail: "changed since nodeup installed it"})
	}
	return rs, intact, nil
}

// UnitRemovals plans stopping (with stop) and disabling a unit nodeup
// enabled; without a running systemd, disabling removes its [Install]
// links. A unit that was enabled before nodeup stays enabled. reload says
// systemd must forget the unit once its file is gone.
func UnitRemovals(ctx context.Context, env *Env, name string, u state.Unit, stop bool) (rs []Removal, reload bool, err error) {
	if m := env.Systemd; m != nil {
		if stop {
			active, _, err := m.ActiveState(ctx, name)
			if err != nil {
				return nil, false, err
			}
			if active != "inactive" && active != "failed" {
				rs = append(rs, Removal{Action: RemovalStop, Target: name, Detail: "is " + active, Do: func(ctx context.Context) error { return m.Stop(ctx, name) }})
			}
		}
		if u.EnabledBefore {
			return append(rs, Removal{Action: RemovalKeep, Target: name, Detail: "enabled: it was enabled before nodeup"}), false, nil
		}
		enabled, err := m.IsEnabled(ctx, name)
		if err != nil {
			return nil, false, err
		}
		if enabled {
			rs = append(rs, Removal{Action: RemovalDisable, Target: name, Do: func(ctx context.Context) error {
				if err := m.Disable(ctx, name); err != nil {
					return err
				}
				// Off the record once it is also stopped: a unit that
				// would not stop is stopped by the next run.
				if active, _, err := m.ActiveState(ctx, name); err == nil && (active == "inactive" || active == "failed") {
					env.State.ForgetUnit(name)
				}
				return nil
			}})
		}
		return rs, enabled, nil
	}
	if u.EnabledBefore {
		return []Removal{{Action: RemovalKeep, Target: name, Detail: "enabled: it was enabled before nodeup"}}, false, nil
	}
	for _, l := range u.Links {
		if !paths.Writable(l) || !linksTo(env, l, name) {
			continue
		}
		rs = append(rs, Removal{Action: RemovalUnlink, Target: l, Detail: "enables " + name, Do: func(context.Context) error { return env.Host.Remove(l) }})
	}
	return rs, false, nil
}

// linksTo reports whether node path l is a symlink to a unit file named
// unit: an [Install] link that enabling it made.
func linksTo(env *Env, l, unit string) bool {
	fi, err := env.Host.Lstat(l)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	target, err := env.Host.Readlink(l)
	return err == nil && path.Base(target) == unit
}

// DirRemoval plans removing a directory nodeup created, if it is empty by
// the time the removal runs.
func DirRemoval(env *Env, d string) Removal {
	if d == "/" || !path.IsAbs(d) || path.Clean(d) != d {
		return Removal{Action: RemovalKeep, Target: d, Detail: NotNodeups}
	}
	if fi, err := env.Host.Lstat(d); err == nil && !fi.IsDir() {
		return Removal{Action: RemovalKeep, Target: d, Detail: "is a " + host.KindOf(fi.Mode()) + " now, not the directory nodeup created: left alone"}
	}
	return Removal{Action: RemovalRemove, Target: d, Detail: "if empty: nodeup created it", Do: func(context.Context) error {
		if err := RemoveIfEmpty(env, d); err != nil {
			return err
		}
		env.State.ForgetDir(d)
		return nil
	}}
}

// Restore puts node file f back from backup b, with the mode and owner it
// had, and drops the backup.
func Restore(env *Env, b, f string) func(context.Context) error {
	return func(context.Context) error {
		if err := env.Host.Copy(b, f); err != nil {
			return err
		}
		if err := env.Host.Remove(b); err != nil {
			return err
		}
		env.State.Forget(f)
		return nil
	}
}

// FirstBackups maps each node path with a backup to the backup to put
// back: the first one made, the file as it was before nodeup. It also
// lists the later backups (timestamped), which stay in the backup
// directory.
func FirstBackups(env *Env) (first map[string]string, later []string, err error) {
	all, err := env.Host.Backups()
	if err != nil {
		return nil, nil, err
	}
	first = map[string]string{}
	for p, list := range all {
		if b := host.FirstBackup(p, list); b != "" {
			first[p] = b
			list = list[1:]
		}
		later = append(later, list...)
	}
	sort.Strings(later)
	return first, later, nil
}

// RemoveEmptyDirs removes the empty directories below node directory dir,
// deepest first, and dir itself if it ends up empty.
func RemoveEmptyDirs(env *Env, dir string) error {
	entries, err := env.Host.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
			if err := RemoveEmptyDirs(env, path.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return RemoveIfEmpty(env, dir)
}

// RemoveIfEmpty removes node directory d when it is empty. Anything else
// there now (a symlink an admin put in its place, a file) stays.
func RemoveIfEmpty(env *Env, d string) error {
	if fi, err := env.Host.Lstat(d); err != nil || !fi.IsDir() {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil {
			env.logf("left %s: it is a %s now, not the directory nodeup created", d, host.KindOf(fi.Mode()))
		}
		return err
	}
	err := env.Host.Remove(d)
	if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		env.logf("left %s: it is not empty", d)
		return nil
	}
	return err
}
