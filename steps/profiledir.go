package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/nodeup/nodeup/node/host"
)

// ProfileDir is the profile an image keeps for its first boot: --phase bake
// makes the node's profile directory hold exactly these files, so that
// nodeup-boot's `apply --phase boot` finds the profile and the values given
// at bake time with no flags. The directory is replaced whole, never merged
// with an earlier profile's.
type ProfileDir struct {
	Dir   string
	Files []KeptFile
	// Dirs are the directories below Dir the files need, parents first.
	Dirs []string
}

// KeptFile is one file of a kept profile, relative to its directory.
type KeptFile struct {
	Rel  string
	Data []byte
	Mode fs.FileMode
}

func (k *ProfileDir) Kind() string { return "profile" }
func (k *ProfileDir) Key() string  { return k.Dir }
func (k *ProfileDir) Describe() string {
	return fmt.Sprintf("profile kept in %s, %d files", k.Dir, len(k.Files))
}

// Writes is the directory, replaced whole.
func (k *ProfileDir) Writes() []string { return []string{k.Dir} }

// Check compares the directory's files with the profile's. Its diff names
// files only: one of them holds the values given, which may be secrets.
func (k *ProfileDir) Check(_ context.Context, env *Env) (Change, error) {
	return k.compare(env.Host)
}

// Apply writes the files into a staging directory beside the profile
// directory, then swaps the two, and records the directory and its files as
// nodeup's so that nodeup reset takes them off the node.
func (k *ProfileDir) Apply(_ context.Context, env *Env) (Change, error) {
	ch, err := k.compare(env.Host)
	if err != nil || !ch.Changed() {
		return ch, err
	}
	if err := k.write(env.Host); err != nil {
		return Change{}, fmt.Errorf("keeping the profile for the boot: %w", err)
	}
	k.record(env)
	return ch, nil
}

// compare lists the files to add, change and remove.
func (k *ProfileDir) compare(h *host.Host) (Change, error) {
	fi, err := h.Lstat(k.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Change{Action: Create, Reason: fmt.Sprintf("new directory, %d files", len(k.Files)), Diff: k.listing(nil)}, nil
	}
	if err != nil {
		return Change{}, err
	}
	if !fi.IsDir() {
		return Change{Action: Update, Reason: "not a directory: replaced whole", Diff: k.listing(nil)}, nil
	}
	on, err := k.onNode(h, "")
	if err != nil {
		return Change{}, err
	}
	diff := k.listing(on)
	if diff == "" {
		return Change{Action: NoOp}, nil
	}
	return Change{Action: Update, Reason: "files differ", Diff: diff}, nil
}

// onNode reads the regular files below the directory (dir relative to it),
// by their relative path; anything else is listed with nil content.
func (k *ProfileDir) onNode(h *host.Host, dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	entries, err := h.ReadDir(path.Join(k.Dir, dir))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		rel := path.Join(dir, e.Name())
		switch {
		case e.IsDir():
			sub, err := k.onNode(h, rel)
			if err != nil {
				return nil, err
			}
			for r, b := range sub {
				out[r] = b
			}
		case e.Type().IsRegular():
			b, err := h.ReadFile(path.Join(k.Dir, rel))
			if err != nil {
				return nil, err
			}
			out[rel] = b
		default:
			out[rel] = nil
		}
	}
	return out, nil
}

// listing is "+ REL", "~ REL" and "- REL" lines for the files that differ
// from on (nil: every file is new); "" when none does.
func (k *ProfileDir) listing(on map[string][]byte) string {
	var lines []string
	want := map[string]bool{}
	for _, f := range k.Files {
		want[f.Rel] = true
		old, ok := on[f.Rel]
		switch {
		case !ok:
			lines = append(lines, "+ "+path.Join(k.Dir, f.Rel))
		case old == nil || !bytes.Equal(old, f.Data):
			lines = append(lines, "~ "+path.Join(k.Dir, f.Rel))
		}
	}
	var gone []string
	for rel := range on {
		if !want[rel] {
			gone = append(gone, "- "+path.Join(k.Dir, rel))
		}
	}
	sort.Strings(gone)
	lines = append(lines, gone...)
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// write replaces the directory with one holding the files.
func (k *ProfileDir) write(h *host.Host) error {
	stage, err := h.MkdirTemp(path.Dir(k.Dir), host.StagePrefix+path.Base(k.Dir)+"-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = h.RemoveAll(stage)
		}
	}()
	for _, d := range k.Dirs {
		if err := h.MkdirAll(path.Join(stage, d), 0o700); err != nil {
			return err
		}
	}
	for _, f := range k.Files {
		if err := h.WriteFile(path.Join(stage, f.Rel), f.Data, f.Mode); err != nil {
			return err
		}
	}
	if _, err := h.Lstat(k.Dir); errors.Is(err, fs.ErrNotExist) {
		if err := h.Rename(stage, k.Dir); err != nil {
			return err
		}
		done = true
		return nil
	} else if err != nil {
		return err
	}
	// The old directory ends up at the stage's name, removed by the defer.
	err = h.Exchange(stage, k.Dir)
	if errors.Is(err, host.ErrExchangeUnsupported) {
		old := stage + "-old"
		if err = h.Rename(k.Dir, old); err == nil {
			if err = h.Rename(stage, k.Dir); err != nil {
				_ = h.Rename(old, k.Dir)
				return err
			}
			stage = old
		}
	}
	return err
}

// record makes the state's record of the directory what write left there:
// files from an earlier profile are forgotten.
func (k *ProfileDir) record(env *Env) {
	st := env.State
	kept := map[string]bool{}
	for _, f := range k.Files {
		p := path.Join(k.Dir, f.Rel)
		kept[p] = true
		// The values given may be secrets: an owner-only file gets no
		// world-readable hash in the state.
		st.RecordContent(p, f.Data, f.Mode)
	}
	for p := range st.Snapshot().Files {
		if strings.HasPrefix(p, k.Dir+"/") && !kept[p] {
			st.Forget(p)
		}
	}
	st.RecordDir(k.Dir)
	for _, d := range k.Dirs {
		st.RecordDir(path.Join(k.Dir, d))
	}
}
