package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/nodeup/nodeup/engine/state"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
)

// bakedProfile is, for an apply with --phase bake, the snapshot of the
// profile the image keeps as its profile directory, so that nodeup-boot's
// `apply --phase boot` finds the profile and the values given at bake time
// with no flags. Other runs keep nothing (nil). It is taken before the
// apply, so a profile that cannot be kept fails before anything changes.
func (inv *invocation) bakedProfile(apply bool, p *profile.Profile) ([]plan.SnapshotFile, error) {
	if !apply || inv.g.phase != string(steps.PhaseBake) {
		return nil, nil
	}
	files, err := plan.Snapshot(p)
	if err != nil {
		return nil, fmt.Errorf("--phase bake keeps the profile in %s for the boot: %w", paths.ProfileDir, err)
	}
	return files, nil
}

// keepProfile makes the node's profile directory hold exactly files: it
// writes them into a staging directory beside it, then swaps the two, so
// the directory is never half written and never a merge of two profiles.
// The state records the directory and its files as nodeup's, so that
// nodeup reset takes them off the node.
func (inv *invocation) keepProfile(env *steps.Env, files []plan.SnapshotFile) error {
	if files == nil {
		return nil
	}
	h := env.Host
	if err := writeProfileDir(h, paths.ProfileDir, files); err != nil {
		return fmt.Errorf("keeping the profile for the boot: %w", err)
	}
	recordProfileDir(env.State, paths.ProfileDir, files)
	if err := env.State.Save(h); err != nil {
		return fmt.Errorf("keeping the profile for the boot: %w", err)
	}
	given := ""
	for _, f := range files {
		if f.Rel == plan.GivenVarsFile {
			given = ", with the values given now in " + path.Join(paths.ProfileDir, plan.GivenVarsFile)
		}
	}
	msg := fmt.Sprintf("Profile kept in %s%s: nodeup apply %s --phase boot applies it at boot.", paths.ProfileDir, given, paths.ProfileDir)
	if inv.g.json {
		// stdout holds one JSON document.
		inv.log.Info(msg)
	} else {
		fmt.Fprintln(inv.out, msg)
	}
	return nil
}

// recordProfileDir makes the state's record of node directory dir what
// writeProfileDir left there: files from an earlier profile are forgotten.
func recordProfileDir(st *state.State, dir string, files []plan.SnapshotFile) {
	kept := map[string]bool{}
	for _, f := range files {
		kept[path.Join(dir, f.Rel)] = true
		st.RecordContent(path.Join(dir, f.Rel), f.Data, f.Mode)
	}
	for p := range st.Snapshot().Files {
		if strings.HasPrefix(p, dir+"/") && !kept[p] {
			st.Forget(p)
		}
	}
	st.RecordDir(dir)
	for _, d := range plan.SnapshotDirs(files) {
		st.RecordDir(path.Join(dir, d))
	}
}

// writeProfileDir replaces node directory dir with one holding files.
func writeProfileDir(h *host.Host, dir string, files []plan.SnapshotFile) error {
	stage, err := h.MkdirTemp(path.Dir(dir), host.StagePrefix+path.Base(dir)+"-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = h.RemoveAll(stage)
		}
	}()
	for _, d := range plan.SnapshotDirs(files) {
		if err := h.MkdirAll(path.Join(stage, d), 0o700); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := h.WriteFile(path.Join(stage, f.Rel), f.Data, f.Mode); err != nil {
			return err
		}
	}
	if _, err := h.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := h.Rename(stage, dir); err != nil {
			return err
		}
		done = true
		return nil
	} else if err != nil {
		return err
	}
	// The old directory ends up at the stage's name, removed below.
	err = h.Exchange(stage, dir)
	if errors.Is(err, host.ErrExchangeUnsupported) {
		old := stage + "-old"
		if err = h.Rename(dir, old); err == nil {
			if err = h.Rename(stage, dir); err != nil {
				_ = h.Rename(old, dir)
				return err
			}
			stage = old
		}
	}
	return err
}
