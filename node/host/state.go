package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"sort"
	"sync"
)

// StatePath is where nodeup records what it wrote (a node path).
const StatePath = "/var/lib/nodeup/state.json"

const stateVersion = 1

// State records the files nodeup wrote on a node with their sha256, so that
// "did nodeup write this?" has an answer on the next run: a file that is not
// recorded, or whose content changed since, belongs to someone else and is
// backed up before nodeup replaces it. It is safe for concurrent use.
type State struct {
	mu    sync.Mutex
	files map[string]string // node path -> hex sha256
	dirty bool
}

type stateFile struct {
	Version int               `json:"version"`
	Files   map[string]string `json:"files"`
}

// LoadState reads the state of the node behind h; a node nodeup never ran on
// has an empty state.
func LoadState(h *Host) (*State, error) {
	s := &State{files: map[string]string{}}
	b, err := h.ReadFile(StatePath)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("read %s: %v; it is not valid JSON: move it away and run nodeup again (files nodeup no longer recognises are backed up before they are replaced)", StatePath, err)
	}
	if f.Version > stateVersion {
		return nil, fmt.Errorf("read %s: state version %d was written by a newer nodeup; use that version or newer", StatePath, f.Version)
	}
	maps.Copy(s.files, f.Files)
	return s, nil
}

// Record notes that nodeup wrote node path p with content hash sha256.
func (s *State) Record(p, sha256 string) {
	p = path.Clean(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[p] != sha256 {
		s.files[p] = sha256
		s.dirty = true
	}
}

// Forget drops node path p from the record (nodeup removed it).
func (s *State) Forget(p string) {
	p = path.Clean(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[p]; ok {
		delete(s.files, p)
		s.dirty = true
	}
}

// Lookup returns the sha256 nodeup recorded for node path p.
func (s *State) Lookup(p string) (sha256 string, ok bool) {
	p = path.Clean(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	sha256, ok = s.files[p]
	return sha256, ok
}

// Under returns the recorded node paths directly in directory dir, sorted.
func (s *State) Under(dir string) []string {
	dir = path.Clean(dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for p := range s.files {
		if path.IsAbs(p) && path.Dir(p) == dir {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Foreign reports whether node file p exists with content nodeup did not
// write: it is not recorded, or it changed since nodeup wrote it. Such a file
// is backed up (Host.Backup) before nodeup replaces it.
func (s *State) Foreign(h *Host, p string) (bool, error) {
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
func (s *State) Save(h *Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, Files: s.files}, "", "  ")
	if err != nil {
		return err
	}
	if err := h.WriteFile(StatePath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	s.dirty = false
	return nil
}
