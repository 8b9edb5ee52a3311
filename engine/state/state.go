// Package state is nodeup's record of what it did to a node, kept in
// /var/lib/nodeup/state.json: the files it wrote with their sha256 (and,
// for installed binaries, a stamp that spares re-hashing them), the
// artifacts it installed, the restarts a change made due that no run has
// done yet, and what last passed a verification that need not be repeated
// while it is unchanged. It answers "did nodeup write this?" on the next run: a
// file that is not recorded, or whose content changed since, belongs to
// someone else and is backed up before nodeup replaces it.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

// Version is the state file format nodeup writes. Version 1 kept artifacts
// and due restarts in the files map as "artifact:NAME" and "restart:UNIT";
// it is read and rewritten as version 2.
const Version = 2

// Artifact is an installed release artifact.
type Artifact struct {
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256"`
}

// Tree is what nodeup installed in a directory tree (kata's /opt/kata),
// by path relative to the tree.
type Tree map[string]TreeEntry

// TreeEntry is one file or symlink of an installed tree. Size and MTime let
// a check skip hashing a file that was not touched since.
type TreeEntry struct {
	SHA256 string `json:"sha256,omitempty"` // regular files
	Link   string `json:"link,omitempty"`   // symlinks: the target
	Mode   uint32 `json:"mode,omitempty"`   // permission bits of regular files
	Size   int64  `json:"size,omitempty"`
	MTime  int64  `json:"mtime,omitempty"` // Unix nanoseconds
}

// Stamp is how a file nodeup vouches for looked on disk when nodeup last
// knew its content (having written or hashed it): size, mtime, ctime and
// inode. A write, a rename over it, a chmod, a link or a touch changes at
// least the ctime, which no one can set back, so a file with the same stamp
// still has its recorded sha256 and a check need not read it again. The
// limit is the filesystem's timestamp granularity (a clock tick on older
// kernels): a same-size rewrite within the tick in which nodeup took the
// stamp keeps it. Git's index trusts the same fields.
type Stamp struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"` // Unix nanoseconds
	CTime int64  `json:"ctime"` // Unix nanoseconds
	Inode uint64 `json:"inode"`
}

// StampOf is fi's stamp; ok is false where the platform does not say.
func StampOf(fi fs.FileInfo) (st Stamp, ok bool) {
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stamp{}, false
	}
	return Stamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), CTime: sys.Ctim.Nano(), Inode: sys.Ino}, true
}

// State is safe for concurrent use.
type State struct {
	saving    sync.Mutex          // one Save at a time, so saves land in order
	mu        sync.Mutex          // the maps; never held across disk I/O
	files     map[string]string   // node path -> hex sha256
	stamps    map[string]Stamp    // node path -> how it looked when its sha256 was known
	artifacts map[string]Artifact // component -> what is installed
	trees     map[string]Tree     // node directory -> what is installed in it
	restarts  map[string]string   // unit -> the step whose change made its restart due
	verified  map[string]string   // check -> fingerprint of what last passed it
	dirty     bool
}

type stateFile struct {
	Version   int                 `json:"version"`
	Files     map[string]string   `json:"files"`
	Stamps    map[string]Stamp    `json:"stamps,omitempty"`
	Artifacts map[string]Artifact `json:"artifacts,omitempty"`
	Trees     map[string]Tree     `json:"trees,omitempty"`
	Restarts  map[string]string   `json:"restarts,omitempty"`
	Verified  map[string]string   `json:"verified,omitempty"`
}

// New returns the state of a node nodeup never ran on.
func New() *State {
	return &State{files: map[string]string{}, stamps: map[string]Stamp{}, artifacts: map[string]Artifact{}, trees: map[string]Tree{}, restarts: map[string]string{}, verified: map[string]string{}}
}

// Load reads the state of the node behind h; a node nodeup never ran on
// has an empty state.
func Load(h *host.Host) (*State, error) {
	s := New()
	b, err := h.ReadFile(paths.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	var f stateFile
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil {
		return nil, fmt.Errorf("read %s: %v; it is not valid JSON: move it away and run nodeup again (files nodeup no longer recognises are backed up before they are replaced)", paths.StateFile, err)
	}
	switch {
	case f.Version > Version:
		return nil, fmt.Errorf("read %s: state version %d was written by a newer nodeup; use that version or newer", paths.StateFile, f.Version)
	case f.Version < Version:
		s.upgrade(f.Files)
		return s, nil
	}
	maps.Copy(s.files, f.Files)
	maps.Copy(s.stamps, f.Stamps)
	maps.Copy(s.artifacts, f.Artifacts)
	maps.Copy(s.restarts, f.Restarts)
	maps.Copy(s.trees, f.Trees)
	maps.Copy(s.verified, f.Verified)
	return s, nil
}

// upgrade reads version 1's single map and marks the state for rewriting.
func (s *State) upgrade(v1 map[string]string) {
	for k, v := range v1 {
		switch {
		case strings.HasPrefix(k, "artifact:"):
			s.artifacts[strings.TrimPrefix(k, "artifact:")] = Artifact{SHA256: v}
		case strings.HasPrefix(k, "restart:"):
			s.restarts[strings.TrimPrefix(k, "restart:")] = v
		default:
			s.files[k] = v
		}
	}
	s.dirty = true
}

// set puts v at k in m and notes a change; the caller holds s.mu.
func set[V comparable](s *State, m map[string]V, k string, v V) {
	if old, ok := m[k]; !ok || old != v {
		m[k] = v
		s.dirty = true
	}
}

// drop removes k from m and notes a change; the caller holds s.mu.
func drop[V any](s *State, m map[string]V, k string) {
	if _, ok := m[k]; ok {
		delete(m, k)
		s.dirty = true
	}
}

// Record notes that nodeup wrote node path p with content hash sha256. A
// stamp recorded for other content no longer vouches for p.
func (s *State) Record(p, sha256 string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = path.Clean(p)
	if old, ok := s.files[p]; ok && old != sha256 {
		drop(s, s.stamps, p)
	}
	set(s, s.files, p, sha256)
}

// Forget drops node path p from the record (nodeup removed it).
func (s *State) Forget(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop(s, s.files, path.Clean(p))
	drop(s, s.stamps, path.Clean(p))
}

// RecordStamp notes how node file p looks while it holds the content
// recorded for it: call it only right after writing p or hashing it and
// finding that content.
func (s *State) RecordStamp(p string, st Stamp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = path.Clean(p)
	if _, ok := s.files[p]; ok {
		set(s, s.stamps, p, st)
	}
}

// Unchanged reports whether node file p, which looks like st now, still
// holds the content recorded for it, as its recorded stamp vouches. false
// means only that the stamp cannot tell: hash the file.
func (s *State) Unchanged(p string, st Stamp) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.stamps[path.Clean(p)]
	return ok && rec == st
}

// Lookup returns the sha256 nodeup recorded for node path p.
func (s *State) Lookup(p string) (sha256 string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha256, ok = s.files[path.Clean(p)]
	return sha256, ok
}

// RecordArtifact notes that an artifact is installed.
func (s *State) RecordArtifact(name string, a Artifact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set(s, s.artifacts, name, a)
}

// Artifact returns what nodeup recorded of an installed artifact.
func (s *State) Artifact(name string) (Artifact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.artifacts[name]
	return a, ok
}

// RecordTree notes what nodeup installed in node directory dir.
func (s *State) RecordTree(dir string, t Tree) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir = path.Clean(dir)
	if !maps.Equal(s.trees[dir], t) {
		s.trees[dir] = t
		s.dirty = true
	}
}

// Tree returns what nodeup recorded of the tree it installed in dir.
func (s *State) Tree(dir string) (Tree, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trees[path.Clean(dir)]
	return t, ok
}

// RestartDue notes that a unit must restart because step cause changed:
// a run killed before the restart leaves it due, and the next run does it.
func (s *State) RestartDue(unit, cause string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set(s, s.restarts, unit, cause)
}

// Restarted notes that a unit was (re)started: no restart is due.
func (s *State) Restarted(unit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop(s, s.restarts, unit)
}

// DueRestart returns the step whose change made a unit's restart due.
func (s *State) DueRestart(unit string) (cause string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cause, ok = s.restarts[unit]
	return cause, ok
}

// RecordVerified notes that a verification check passed against what
// fingerprint describes (the files it ran, as they were); "" forgets it.
func (s *State) RecordVerified(check, fingerprint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fingerprint == "" {
		drop(s, s.verified, check)
		return
	}
	set(s, s.verified, check, fingerprint)
}

// Verified returns the fingerprint of what last passed a check, or "".
func (s *State) Verified(check string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verified[check]
}

// Foreign reports whether node file p exists with content nodeup did not
// write: it is not recorded, or it changed since nodeup wrote it. Such a file
// is backed up (Host.Backup) before nodeup replaces it.
func (s *State) Foreign(h *host.Host, p string) (bool, error) {
	fi, err := h.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return true, nil
	}
	want, ok := s.Lookup(p)
	if !ok {
		return true, nil
	}
	got, err := h.SHA256(p)
	if err != nil {
		return false, err
	}
	return got != want, nil
}

// Save writes the state atomically (Host.WriteFile) if it changed since it
// was loaded or last saved, so an apply that changes nothing writes nothing.
//
// The record is copied under the lock and written without it: steps that
// record what they did while a save syncs the disk do not wait for it.
func (s *State) Save(h *host.Host) error {
	s.saving.Lock()
	defer s.saving.Unlock()
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	b, err := json.MarshalIndent(stateFile{Version: Version, Files: s.files, Stamps: s.stamps, Artifacts: s.artifacts, Trees: s.trees, Restarts: s.restarts, Verified: s.verified}, "", "  ")
	if err == nil {
		s.dirty = false
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := h.WriteFile(paths.StateFile, append(b, '\n'), 0o644); err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return err
	}
	return nil
}
