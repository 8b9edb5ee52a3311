package engine

import (
	"errors"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
)

// files plans removing every file nodeup wrote or installed that is as it
// wrote it; a file it replaced is put back from its backup instead.
func (r *resetPlanner) files() error {
	snap := r.snap
	for _, f := range slices.Sorted(maps.Keys(snap.Files)) {
		owner := ""
		if name := snap.ArtifactOf(f); name != "" {
			owner = strings.TrimSpace(name + " " + snap.Artifacts[name].Version)
		}
		rm, covered, err := steps.FileRemoval(r.env, f, r.backups[f], owner)
		if err != nil {
			return err
		}
		r.covered[f] = r.covered[f] || covered
		if rm.Action == "" {
			continue
		}
		if rm.Do != nil {
			r.reload = r.reload || paths.IsUnitFile(f)
		}
		r.addAll(rm)
	}
	return nil
}

// trees plans removing what nodeup installed in each tree (kata's
// /opt/kata), member by member: what someone added or changed there stays.
func (r *resetPlanner) trees() error {
	snap := r.snap
	for _, dir := range slices.Sorted(maps.Keys(snap.Trees)) {
		owner := snap.ArtifactOf(dir)
		if owner != "" {
			owner = strings.TrimSpace(owner + " " + snap.Artifacts[owner].Version)
		}
		rs, removed, err := steps.TreeRemovals(r.env, dir, snap.Trees[dir], owner)
		if err != nil {
			return err
		}
		for _, m := range removed {
			r.removed[m] = true
		}
		r.addAll(rs...)
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
		r.add(ResetRestore, f, "from "+b+", the file nodeup replaced", steps.Restore(r.env, b, f))
	}
	return nil
}

// dirs plans removing the directories nodeup created, deepest first, each
// only if it is empty by then.
func (r *resetPlanner) dirs() {
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
		r.addAll(steps.DirRemoval(r.env, d))
	}
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
	if err := steps.RemoveEmptyDirs(env, paths.BackupDir); err != nil {
		return err
	}
	if err := steps.RemoveIfEmpty(env, paths.StateDir); err != nil {
		return err
	}
	for d := path.Dir(paths.StateDir); d != "/"; d = path.Dir(d) {
		if !slices.Contains(created, d) {
			break
		}
		if err := steps.RemoveIfEmpty(env, d); err != nil {
			return err
		}
	}
	return nil
}
