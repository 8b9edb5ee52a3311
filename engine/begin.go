package engine

import (
	"context"
	"errors"
	"path"
	"strings"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// Begin readies env's node for an apply of g: it takes the node's lock
// (waiting for another nodeup with wait), reads the state with the lock
// held (a nodeup we waited for has changed it, and a stale state would take
// its files for someone else's), and removes the temporary files a killed
// run left beside what g writes. release gives the lock back.
func Begin(ctx context.Context, g *graph.Graph, env *steps.Env, wait bool) (release func() error, err error) {
	h := env.Host
	// Under --root the lock is not /run/nodeup.lock: name the file an
	// operator can look at.
	lock, perr := h.Path(paths.LockFile)
	if perr != nil {
		lock = paths.LockFile
	}
	release, err = h.Lock(ctx, wait, func(holder int) {
		if env.Logf != nil {
			env.Logf("waiting for another nodeup (pid %d) to release %s", holder, lock)
		}
	})
	if err != nil {
		var locked *host.LockedError
		if errors.As(err, &locked) {
			locked.Path = lock
		}
		return nil, err
	}
	if env.State, err = state.Load(h); err != nil {
		_ = release()
		return nil, err
	}
	removed, err := h.Sweep(LeftoverDirs(g)...)
	if len(removed) > 0 && env.Logf != nil {
		env.Logf("removed %d leftovers of an interrupted run: %s", len(removed), strings.Join(removed, ", "))
	}
	if err != nil && env.Warnf != nil {
		env.Warnf("removing leftovers of an interrupted run: %v", err)
	}
	return release, nil
}

// LeftoverDirs are the node directories where an interrupted apply of g
// may have left temporary files or staging directories: beside every path
// a step writes and its backup, beside the state and in the download cache.
func LeftoverDirs(g *graph.Graph) []string {
	dirs := []string{paths.StateDir, paths.CacheDir, path.Join(paths.CacheDir, "sha256")}
	for _, v := range g.Order() {
		s, ok := v.Action.(steps.Step)
		if !ok {
			continue
		}
		for _, p := range s.Writes() {
			dirs = append(dirs, path.Dir(p), path.Join(paths.BackupDir, path.Dir(p)))
		}
	}
	return dirs
}
