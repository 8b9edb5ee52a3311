package steps

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/state"
)

// An artifact's tree (kata's /opt/kata) is checked member by member
// against what nodeup recorded when it installed it: a file deleted,
// changed or made writable by others, or a symlink pointed elsewhere, is
// drift that the next apply repairs.

// readTree records the files and symlinks under node directory dir, with
// hashes, as nodeup installed them.
func readTree(env *Env, dir string) (state.Tree, error) {
	t := state.Tree{}
	err := walkTree(env, dir, "", func(rel string, fi fs.FileInfo) error {
		p := path.Join(dir, rel)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := env.Host.Readlink(p)
			if err != nil {
				return err
			}
			t[rel] = state.TreeEntry{Link: target}
		case fi.Mode().IsRegular():
			sum, err := env.Host.SHA256(p)
			if err != nil {
				return err
			}
			// The stamp is taken before the hash: a change while hashing
			// moves the file's stamp away from the recorded one.
			st, _ := state.StampOf(fi)
			t[rel] = state.TreeEntry{SHA256: sum, Mode: uint32(fi.Mode().Perm()), Stamp: st}
		}
		return nil
	})
	return t, err
}

// walkTree calls fn for every entry below node directory dir, in name
// order, without following symlinks.
func walkTree(env *Env, dir, rel string, fn func(rel string, fi fs.FileInfo) error) error {
	entries, err := env.Host.ReadDir(path.Join(dir, rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		r := path.Join(rel, e.Name())
		fi, err := env.Host.Lstat(path.Join(dir, r))
		if err != nil {
			return err
		}
		if err := fn(r, fi); err != nil {
			return err
		}
		if fi.IsDir() {
			if err := walkTree(env, dir, r, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// treeDrift names the first member of the recorded tree under dir that is
// not as nodeup installed it, or returns "". rec is the state's copy:
// members it had to hash and found unchanged get their stamps recorded in
// it and in the state, so the next check reads none of them.
func treeDrift(env *Env, dir string, rec state.Tree) (string, error) {
	restamped := false
	for _, rel := range slices.Sorted(maps.Keys(rec)) {
		why, st, err := memberDrift(env.Host, path.Join(dir, rel), rec[rel])
		if err != nil || why != "" {
			return why, err
		}
		if st != nil {
			e := rec[rel]
			e.Stamp, restamped = *st, true
			rec[rel] = e
		}
	}
	if restamped {
		env.State.RecordTree(dir, rec)
	}
	return "", nil
}

// MemberDrift says how the tree member at node path p differs from what
// nodeup recorded when it installed it, or returns "" when it does not.
// A regular file whose stamp vouches for it (state.Stamp) is not hashed.
func MemberDrift(h *host.Host, p string, want state.TreeEntry) (string, error) {
	why, _, err := memberDrift(h, p, want)
	return why, err
}

// memberDrift is MemberDrift; a regular file it hashed and found as
// recorded comes with its stamp (taken before the hash).
func memberDrift(h *host.Host, p string, want state.TreeEntry) (string, *state.Stamp, error) {
	fi, err := h.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return p + " is missing", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if want.Link != "" {
		target, err := h.Readlink(p)
		if err != nil || target != want.Link {
			return fmt.Sprintf("%s no longer links to %s", p, want.Link), nil, nil
		}
		return "", nil, nil
	}
	if !fi.Mode().IsRegular() {
		return p + " is no longer a regular file", nil, nil
	}
	if perm := uint32(fi.Mode().Perm()); perm != want.Mode {
		return fmt.Sprintf("%s has mode %04o, nodeup installed it %04o", p, perm, want.Mode), nil, nil
	}
	st, stamped := state.StampOf(fi)
	if stamped && want.Vouches(st) {
		return "", nil, nil // untouched since nodeup recorded it
	}
	sum, err := h.SHA256(p)
	if err != nil {
		return "", nil, err
	}
	if sum != want.SHA256 {
		return p + " was changed since nodeup installed it", nil, nil
	}
	if !stamped {
		return "", nil, nil
	}
	return "", &st, nil
}

// backupForeignTree backs up every file and symlink under node directory
// dir that nodeup did not install there (rec is what it did, nil for a
// tree it never installed), before the tree is replaced. A member that is
// what the new tree installs is nodeup's too: a run killed after swapping
// the tree in but before recording it left it there. incoming lists the
// new tree's members; it is read only when a member differs from rec.
func backupForeignTree(env *Env, dir string, rec state.Tree, incoming func() (state.Tree, error)) error {
	if _, err := env.Host.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	have, err := readTree(env, dir)
	if err != nil {
		return err
	}
	for _, rel := range slices.Sorted(maps.Keys(have)) {
		e := have[rel]
		if sameMember(rec[rel], e) {
			continue
		}
		next, err := incoming()
		if err != nil {
			return err
		}
		if sameMember(next[rel], e) {
			continue
		}
		if next == nil {
			if next, err = incoming(); err != nil {
				return err
			}
		}
		if w, ok := next[rel]; ok && w.SHA256 == e.SHA256 && w.Link == e.Link {
			continue
		}
		dst, err := env.Host.Backup(path.Join(dir, rel))
		if err != nil {
			return err
		}
		env.logf("backed up %s to %s", path.Join(dir, rel), dst)
	}
	return nil
}

// sameMember reports whether a tree member on the node, e, has the content
// or link target recorded in want.
func sameMember(want, e state.TreeEntry) bool {
	return (want.SHA256 != "" || want.Link != "") && want.SHA256 == e.SHA256 && want.Link == e.Link
}

// archiveTree lists the files and symlinks the archive's directory from
// holds, as a tree relative to it (hard links as the files they name).
func archiveTree(arc *archive.Archive, from string) (state.Tree, error) {
	members, err := arc.Members()
	if err != nil {
		return nil, err
	}
	byName := map[string]archive.Member{}
	for _, m := range members {
		byName[m.Name] = m
	}
	prefix := strings.Trim(path.Clean("/"+from), "/")
	t := state.Tree{}
	for _, m := range members {
		rel, ok := strings.CutPrefix(m.Name, prefix+"/")
		if prefix == "" {
			rel, ok = m.Name, m.Name != ""
		}
		if !ok {
			continue
		}
		switch m.Kind {
		case archive.File:
			t[rel] = state.TreeEntry{SHA256: m.SHA256}
		case archive.Hardlink:
			t[rel] = state.TreeEntry{SHA256: byName[m.Link].SHA256}
		case archive.Symlink:
			t[rel] = state.TreeEntry{Link: m.Link}
		}
	}
	return t, nil
}
