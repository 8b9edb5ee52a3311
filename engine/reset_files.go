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
	"syscall"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
)

// files plans removing every file nodeup wrote or installed that is as it
// wrote it; a file it replaced is put back from its backup instead.
func (r *resetPlanner) files() error {
	env, h, snap, add := r.env, r.env.Host, r.snap, r.add
	for _, f := range slices.Sorted(maps.Keys(snap.Files)) {
		if !paths.Writable(f) {
			add(ResetKeep, f, notNodeups, nil)
			continue
		}
		owner := ""
		if name := snap.ArtifactOf(f); name != "" {
			owner = strings.TrimSpace(name + " " + snap.Artifacts[name].Version)
		}
		backup, hasBackup := r.backups[f]
		if _, err := h.Lstat(f); errors.Is(err, fs.ErrNotExist) {
			if hasBackup {
				r.covered[f] = true
				add(ResetRestore, f, "from "+backup+" (nodeup's file is gone)", restore(env, backup, f))
			}
			continue
		} else if err != nil {
			return err
		}
		changed, err := env.State.Foreign(h, f)
		if err != nil {
			return err
		}
		if changed {
			detail := "changed since nodeup wrote it"
			if hasBackup {
				r.covered[f] = true // the backup stays where it is
				detail += "; the file it replaced stays in " + backup
			}
			add(ResetKeep, f, detail, nil)
			continue
		}
		r.reload = r.reload || paths.IsUnitFile(f)
		if hasBackup {
			r.covered[f] = true
			add(ResetRestore, f, "from "+backup+", the file nodeup replaced", restore(env, backup, f))
			continue
		}
		detail := "written by nodeup"
		if owner != "" {
			detail = "installed with " + owner
		}
		add(ResetRemove, f, detail, func(context.Context) error {
			if err := h.Remove(f); err != nil {
				return err
			}
			env.State.Forget(f)
			return nil
		})
	}
	return nil
}

// trees plans removing what nodeup installed in each tree (kata's
// /opt/kata), member by member: what someone added or changed there stays.
func (r *resetPlanner) trees() error {
	env, h, snap, add := r.env, r.env.Host, r.snap, r.add
	for _, dir := range slices.Sorted(maps.Keys(snap.Trees)) {
		if !paths.Writable(dir) {
			add(ResetKeep, dir, notNodeups, nil)
			continue
		}
		tree := snap.Trees[dir]
		var intact, changed []string
		for _, rel := range slices.Sorted(maps.Keys(tree)) {
			if m := path.Join(dir, rel); !strings.HasPrefix(m, dir+"/") || path.IsAbs(rel) || path.Clean(rel) != rel {
				add(ResetKeep, m, notNodeups+" (a member outside its tree)", nil)
				continue
			}
			why, err := steps.MemberDrift(h, path.Join(dir, rel), tree[rel])
			if err != nil {
				return err
			}
			switch {
			case strings.HasSuffix(why, " is missing"):
			case why != "":
				changed = append(changed, path.Join(dir, rel))
			default:
				intact = append(intact, path.Join(dir, rel))
				r.removed[path.Join(dir, rel)] = true
			}
		}
		owner := snap.ArtifactOf(dir)
		if owner != "" {
			owner = strings.TrimSpace(owner+" "+snap.Artifacts[owner].Version) + ": "
		}
		add(ResetRemove, dir, fmt.Sprintf("%s%d files and links nodeup installed", owner, len(intact)), func(context.Context) error {
			for _, m := range intact {
				if err := h.Remove(m); err != nil {
					return err
				}
			}
			if err := removeEmptyDirs(env, dir); err != nil {
				return err
			}
			env.State.ForgetTree(dir)
			return nil
		})
		for _, m := range changed {
			add(ResetKeep, m, "changed since nodeup installed it", nil)
		}
	}
	return nil
}

// restores plans putting back the backups no file step covers: files nodeup
// replaced in a tree, and files whose record it no longer has. A path that
// holds something the reset does not remove is not overwritten.
func (r *resetPlanner) restores() error {
	h := r.env.Host
	for _, f := range slices.Sorted(maps.Keys(r.backups)) {
		if r.covered[f] {
			continue
		}
		b := r.backups[f]
		if _, err := h.Lstat(f); err == nil && !r.removed[f] {
			r.add(ResetKeep, b, f+" exists and is not what nodeup installed there: not overwritten", nil)
			continue
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		r.reload = r.reload || paths.IsUnitFile(f)
		r.add(ResetRestore, f, "from "+b+", the file nodeup replaced", restore(r.env, b, f))
	}
	return nil
}

// dirs plans removing the directories nodeup created, deepest first, each
// only if it is empty by then.
func (r *resetPlanner) dirs() {
	env, add := r.env, r.add
	dirs := append([]string(nil), r.snap.Dirs...)
	sort.Slice(dirs, func(i, j int) bool {
		if a, b := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/"); a != b {
			return a > b
		}
		return dirs[i] < dirs[j]
	})
	for _, d := range dirs {
		if strings.HasPrefix(paths.StateDir, d+"/") {
			continue // removed with nodeup's own files, last
		}
		if d == "/" || !path.IsAbs(d) || path.Clean(d) != d {
			add(ResetKeep, d, notNodeups, nil)
			continue
		}
		if fi, err := env.Host.Lstat(d); err == nil && !fi.IsDir() {
			add(ResetKeep, d, "is a "+host.KindOf(fi.Mode())+" now, not the directory nodeup created: left alone", nil)
			continue
		}
		add(ResetRemove, d, "if empty: nodeup created it", func(context.Context) error {
			if err := removeIfEmpty(env, d); err != nil {
				return err
			}
			env.State.ForgetDir(d)
			return nil
		})
	}
}

// restore puts node file f back from backup b, with the mode and owner it
// had, and drops the backup.
func restore(env *steps.Env, b, f string) func(context.Context) error {
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

// backupsOf maps each node path with a backup to the backup to restore:
// the first one made, the file as it was before nodeup. It also lists the
// later backups (timestamped), which stay in the backup directory.
func backupsOf(env *steps.Env) (first map[string]string, later []string, err error) {
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

// removeEmptyDirs removes the empty directories below node directory dir,
// deepest first, and dir itself if it ends up empty.
func removeEmptyDirs(env *steps.Env, dir string) error {
	entries, err := env.Host.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
			if err := removeEmptyDirs(env, path.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return removeIfEmpty(env, dir)
}

// notNodeups is why reset leaves a path its state lists but nodeup could
// not have written (see paths.Writable): the state file is only a file.
const notNodeups = "not a place nodeup writes: left alone, whatever state.json says"

// removeIfEmpty removes node directory d when it is empty. Anything else
// there now (a symlink an admin put in its place, a file) stays.
func removeIfEmpty(env *steps.Env, d string) error {
	if fi, err := env.Host.Lstat(d); err != nil || !fi.IsDir() {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && env.Logf != nil {
			env.Logf("left %s: it is a %s now, not the directory nodeup created", d, host.KindOf(fi.Mode()))
		}
		return err
	}
	err := env.Host.Remove(d)
	if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		if env.Logf != nil {
			env.Logf("left %s: it is not empty", d)
		}
		return nil
	}
	return err
}

// removeOwn removes nodeup's own files: the state, the last apply, the
// rollback copies, and the backup directory when every backup in it was
// put back; then the directories nodeup created above them, if empty.
func removeOwn(env *steps.Env, created []string) error {
	h := env.Host
	for _, f := range []string{paths.StateFile, paths.StateKeyFile, paths.LastApplyFile} {
		if err := h.Remove(f); err != nil {
			return err
		}
	}
	if err := h.RemoveAll(paths.RollbackDir); err != nil {
		return err
	}
	if err := removeEmptyDirs(env, paths.BackupDir); err != nil {
		return err
	}
	if err := removeIfEmpty(env, paths.StateDir); err != nil {
		return err
	}
	for d := path.Dir(paths.StateDir); d != "/"; d = path.Dir(d) {
		if !slices.Contains(created, d) {
			break
		}
		if err := removeIfEmpty(env, d); err != nil {
			return err
		}
	}
	return nil
}
