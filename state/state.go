// Package state is nodeup's record of what it did to a node, kept in
// /var/lib/nodeup/state.json: the files it wrote with their sha256, the
// artifacts it installed (with the release each replaced, and the last one
// it took back), the trees, units and directories it made, and the restarts
// a change made due that no run has done yet. It answers "did nodeup write
// this?" on the next run: a file that is not recorded, or whose content
// changed since, belongs to someone else and is backed up before nodeup
// replaces it. It is also all `nodeup reset` and `nodeup state` read: they
// need no profile.
//
// Beside the record it keeps what spares a converged node work: a stamp per
// installed file (see Stamp), so a check hashes only a file that moved,
// what last passed a verification that need not be repeated while it is
// unchanged, and the image ID each pinned image archive gives its image
// (see Image), so a check compares containerd's image with the pinned one
// without the archive. All are caches: without them nodeup hashes, runs or
// fetches again.
package state

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

// Version is the state file format nodeup writes. Version 1 kept artifacts
// and due restarts in the files map as "artifact:NAME" and "restart:UNIT";
// version 2 had no units and directories. Both are read and rewritten as
// version 3, which an older nodeup refuses rather than drop what it does
// not know. File stamps, what passed verification and images are caches,
// not record: a nodeup that drops them costs the next run a hash, a check
// and a download.
const Version = 3

// Artifact is an installed release artifact.
type Artifact struct {
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256"`
	// Files and Trees are the node paths it installed.
	Files []string `json:"files,omitempty"`
	Trees []string `json:"trees,omitempty"`
	// Members are the files it installed with their sha256: its own, so
	// that another component writing one of its paths (a CNI archive
	// member named like a containerd binary) is drift of this one, and a
	// spread install (every executable into a directory) is judged by what
	// it put there, not by what others did.
	Members map[string]string `json:"members,omitempty"`
	// Previous is the release this one replaced: an upgrade or downgrade.
	Previous *Release `json:"previous,omitempty"`
	// RolledBack is the release an apply installed in place of this one and
	// took back, because the node did not come up verified on it.
	RolledBack *Failed `json:"rolledBack,omitempty"`
}

// Release names one release of an artifact.
type Release struct {
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256"`
}

// Failed is a release nodeup installed and took back, and why.
type Failed struct {
	Release
	Error string    `json:"error"`
	Time  time.Time `json:"time"`
}

// Unit is a systemd unit nodeup enabled.
type Unit struct {
	// File is the unit file nodeup wrote; "" for a distribution's unit.
	File string `json:"file,omitempty"`
	// Links are the [Install] links enabling it makes (node paths).
	Links []string `json:"links,omitempty"`
	// Start says nodeup starts it (and reset stops it).
	Start bool `json:"start,omitempty"`
	// Started says an apply has started it; a unit baked into an image
	// (--phase bake) is enabled to start at boot, and not started yet.
	Started bool `json:"started,omitempty"`
	// EnabledBefore says the unit was enabled before nodeup first enabled
	// it: reset leaves it enabled.
	EnabledBefore bool `json:"enabledBefore,omitempty"`
}

// Tree is what nodeup installed in a directory tree (kata's /opt/kata),
// by path relative to the tree.
type Tree map[string]TreeEntry

// TreeEntry is one file or symlink of an installed tree. A regular file's
// Stamp lets a check skip hashing it while it was not touched since.
type TreeEntry struct {
	SHA256 string `json:"sha256,omitempty"` // regular files
	Link   string `json:"link,omitempty"`   // symlinks: the target
	Mode   uint32 `json:"mode,omitempty"`   // permission bits of regular files
	Stamp
}

// Image is the image ID a pinned image archive gives the image it was
// imported (or found in containerd) for: a check that finds containerd's
// image under the reference with this ID knows it is the pinned one without
// fetching the archive.
type Image struct {
	Archive string `json:"archive"` // sha256 of the archive
	Arch    string `json:"arch"`    // the platform chosen in it
	ID      string `json:"id"`      // sha256:<hex> of the image's config
}

// Stamp is how a file looked when nodeup last knew its content, having
// written it or hashed it: size, mtime, ctime and inode. A check that finds
// the file with the stamp recorded trusts the recorded sha256 and does not
// read it; any other stamp means hashing it.
//
// The mtime alone would not do: `touch -d` or a copy that keeps times puts
// it back after an edit. The ctime cannot be set (short of setting the
// system clock back): every write, chmod, chown, link, rename or time
// change moves it to the current time, and a file renamed over this one is
// another inode. What is left is the clock's
// granularity: where ctimes are coarse (kernels before 6.13, or filesystems
// without multigrain timestamps), a same-size rewrite that puts the mtime
// back within the same tick (a few milliseconds) as nodeup's own write or
// stat keeps the stamp. That is a race with nodeup while it holds its lock,
// not drift, and whoever can run it as root can as well edit state.json.
type Stamp struct {
	Size  int64  `json:"size,omitempty"`
	MTime int64  `json:"mtime,omitempty"` // Unix nanoseconds
	CTime int64  `json:"ctime,omitempty"` // Unix nanoseconds
	Inode uint64 `json:"inode,omitempty"`
}

// StampOf is fi's stamp; ok is false where the platform does not say.
func StampOf(fi fs.FileInfo) (st Stamp, ok bool) {
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stamp{}, false
	}
	return Stamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), CTime: sys.Ctim.Nano(), Inode: sys.Ino}, true
}

// Vouches reports whether a file that looks like now still has the content
// it had when rec was taken. A stamp without a ctime (an older nodeup kept
// only size and mtime of tree members) vouches for nothing.
func (rec Stamp) Vouches(now Stamp) bool {
	return rec.CTime != 0 && rec == now
}

// State is safe for concurrent use.
type State struct {
	saving    sync.Mutex          // one Save at a time, so saves land in order
	mu        sync.Mutex          // the maps; never held across disk I/O
	files     map[string]string   // node path -> hex sha256
	stamps    map[string]Stamp    // node path -> how it looked when its sha256 was known
	artifacts map[string]Artifact // component -> what is installed
	trees     map[string]Tree     // node directory -> what is installed in it
	units     map[string]Unit     // unit name -> how nodeup enabled it
	dirs      map[string]bool     // node directories nodeup created
	restarts  map[string]string   // unit -> the step whose change made its restart due
	verified  map[string]string   // check -> fingerprint of what last passed it
	images    map[string]Image    // image reference -> what its pinned archive gives it
	dirty     bool
	// key keys the marks of private files (see RecordContent); keyNew:
	// made in this run, not saved yet.
	key    []byte
	keyNew bool
}

type stateFile struct {
	Version   int                 `json:"version"`
	Files     map[string]string   `json:"files"`
	Stamps    map[string]Stamp    `json:"stamps,omitempty"`
	Artifacts map[string]Artifact `json:"artifacts,omitempty"`
	Trees     map[string]Tree     `json:"trees,omitempty"`
	Units     map[string]Unit     `json:"units,omitempty"`
	Dirs      []string            `json:"dirs,omitempty"`
	Restarts  map[string]string   `json:"restarts,omitempty"`
	Verified  map[string]string   `json:"verified,omitempty"`
	Images    map[string]Image    `json:"images,omitempty"`
}

// New returns the state of a node nodeup never ran on.
func New() *State {
	return &State{files: map[string]string{}, stamps: map[string]Stamp{}, artifacts: map[string]Artifact{}, trees: map[string]Tree{},
		units: map[string]Unit{}, dirs: map[string]bool{}, restarts: map[string]string{}, verified: map[string]string{},
		images: map[string]Image{}}
}

// Exists reports whether node h has a state file: nodeup has run there.
func Exists(h *host.Host) (bool, error) {
	_, err := h.Lstat(paths.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
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
	if key, err := h.ReadFileMax(paths.StateKeyFile, 1<<10); err == nil {
		s.key = key
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var f stateFile
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil {
		return nil, fmt.Errorf("read %s: %v; it is not valid JSON: move it away and run nodeup again (files nodeup no longer recognises are backed up before they are replaced)", paths.StateFile, err)
	}
	switch {
	case f.Version > Version:
		return nil, fmt.Errorf("read %s: state version %d was written by a newer nodeup; use that version or newer", paths.StateFile, f.Version)
	case f.Version < 2:
		s.upgrade(f.Files)
		return s, nil
	}
	maps.Copy(s.files, f.Files)
	maps.Copy(s.stamps, f.Stamps)
	maps.Copy(s.artifacts, f.Artifacts)
	maps.Copy(s.restarts, f.Restarts)
	maps.Copy(s.trees, f.Trees)
	maps.Copy(s.units, f.Units)
	maps.Copy(s.verified, f.Verified)
	maps.Copy(s.images, f.Images)
	for _, d := range f.Dirs {
		s.dirs[path.Clean(d)] = true
	}
	// Version 2 is version 3 without units and directories.
	s.dirty = f.Version < Version
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
	s.locked(func() {
		p = path.Clean(p)
		if old, ok := s.files[p]; ok && old != sha256 {
			drop(s, s.stamps, p)
		}
		set(s, s.files, p, sha256)
	})
}

// RecordContent notes that nodeup wrote node path p with content and
// mode. A file others may not read (no group or other permission bits) may
// hold a secret, and state.json is world-readable: such a file is recorded
// by a mark keyed with the node's state key (0600), never its sha256, so
// the record cannot be used to guess what it holds.
func (s *State) RecordContent(p string, content []byte, mode fs.FileMode) {
	sum := digest.Bytes(content)
	if mode.Perm()&0o077 == 0 {
		s.mu.Lock()
		sum = s.seal(sum)
		s.mu.Unlock()
	}
	s.Record(p, sum)
}

// privatePrefix starts the marks of private files in the record.
const privatePrefix = "hmac-sha256:"

// Private reports whether sum, as recorded for a file, is the mark of a
// private file rather than its sha256.
func Private(sum string) bool { return strings.HasPrefix(sum, privatePrefix) }

// Shown is sum as nodeup prints it: "(sensitive)" for a private file.
func Shown(sum string) string {
	if Private(sum) {
		return "(sensitive)"
	}
	return sum
}

// seal returns the mark of a private file of sha256 sum, making the key
// on first use; the caller holds s.mu.
func (s *State) seal(sum string) string {
	if len(s.key) == 0 {
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		s.keyNew, s.dirty = true, true
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(sum))
	return privatePrefix + hex.EncodeToString(m.Sum(nil))
}

// holds reports whether recorded (a sha256 or a private file's mark) is
// what the record says for content of sha256 got.
func (s *State) holds(recorded, got string) bool {
	if !Private(recorded) {
		return recorded == got
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.key) > 0 && hmac.Equal([]byte(s.seal(got)), []byte(recorded))
}

// FileStatus says how node file p compares with the record: "missing",
// "not recorded", "as nodeup wrote it", or "changed since nodeup wrote it"
// (with its sha256, unless it is a private file).
func (s *State) FileStatus(h *host.Host, p string) string {
	want, recorded := s.Lookup(p)
	have, err := h.SHA256(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case err != nil:
		return err.Error()
	case !recorded:
		return "not recorded"
	case s.holds(want, have):
		return "as nodeup wrote it"
	case Private(want):
		return "changed since nodeup wrote it"
	}
	return "changed since nodeup wrote it (sha256:" + have + ")"
}

// Forget drops node path p from the record (nodeup removed it).
func (s *State) Forget(p string) {
	s.locked(func() {
		drop(s, s.files, path.Clean(p))
		drop(s, s.stamps, path.Clean(p))
	})
}

// RecordStamp notes how node file p looks while it holds the content
// recorded for it: call it only with a stamp taken right after writing p,
// or taken before hashing p and finding that content.
func (s *State) RecordStamp(p string, st Stamp) {
	s.locked(func() {
		p = path.Clean(p)
		if _, ok := s.files[p]; ok && st.CTime != 0 {
			set(s, s.stamps, p, st)
		}
	})
}

// Unchanged reports whether node file p, which looks like st now, still
// holds the content recorded for it, as its recorded stamp vouches. false
// means only that the stamp cannot tell: hash the file.
func (s *State) Unchanged(p string, st Stamp) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.stamps[path.Clean(p)]
	return ok && rec.Vouches(st)
}

// Lookup returns the sha256 nodeup recorded for node path p.
func (s *State) Lookup(p string) (sha256 string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha256, ok = s.files[path.Clean(p)]
	return sha256, ok
}

// Under returns the recorded node paths directly in directory dir, sorted.
func (s *State) Under(dir string) []string {
	dir = path.Clean(dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for p := range s.files {
		if path.Dir(p) == dir {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// locked runs fn holding s.mu.
func (s *State) locked(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

// setDeep is set for values == cannot compare; the caller holds s.mu.
func setDeep[V any](s *State, m map[string]V, k string, v V) {
	if old, ok := m[k]; !ok || !reflect.DeepEqual(old, v) {
		m[k] = v
		s.dirty = true
	}
}

// RecordArtifact notes that an artifact is installed. When it replaces
// another release, that one becomes a.Previous; a reinstall of the same
// release keeps what was recorded of the one before it and of a release
// taken back.
func (s *State) RecordArtifact(name string, a Artifact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.artifacts[name]; ok {
		if old.SHA256 != a.SHA256 {
			a.Previous = &Release{Version: old.Version, SHA256: old.SHA256}
		} else {
			a.Previous, a.RolledBack = old.Previous, old.RolledBack
		}
	}
	setDeep(s, s.artifacts, name, a)
}

// PutArtifact sets the record of an artifact exactly as given, or with
// ok false removes it: a rollback puts back what was recorded before.
func (s *State) PutArtifact(name string, a Artifact, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		drop(s, s.artifacts, name)
		return
	}
	setDeep(s, s.artifacts, name, a)
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

// Tree returns a copy of what nodeup recorded of the tree it installed in
// dir.
func (s *State) Tree(dir string) (Tree, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trees[path.Clean(dir)]
	return maps.Clone(t), ok
}

// ForgetTree drops the record of the tree in dir (nodeup removed it).
func (s *State) ForgetTree(dir string) {
	s.locked(func() { drop(s, s.trees, path.Clean(dir)) })
}

// RecordUnit notes how nodeup enabled a unit.
func (s *State) RecordUnit(name string, u Unit) {
	s.locked(func() { setDeep(s, s.units, name, u) })
}

// Unit returns what nodeup recorded of a unit it enabled.
func (s *State) Unit(name string) (Unit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[name]
	return u, ok
}

// ForgetUnit drops a unit from the record (nodeup disabled it).
func (s *State) ForgetUnit(name string) {
	s.locked(func() { drop(s, s.units, name) })
}

// RecordDir notes that nodeup created node directory dir.
func (s *State) RecordDir(dir string) {
	s.locked(func() { set(s, s.dirs, path.Clean(dir), true) })
}

// ForgetDir drops a directory from the record (nodeup removed it).
func (s *State) ForgetDir(dir string) {
	s.locked(func() { drop(s, s.dirs, path.Clean(dir)) })
}

// ForgetArtifact drops an artifact from the record (nodeup removed it).
func (s *State) ForgetArtifact(name string) {
	s.locked(func() { drop(s, s.artifacts, name) })
}

// ForgetMember drops node path p from the record of the artifacts that
// installed it: nodeup removed it, and the artifact stays (a CNI plugin the
// profile no longer lists).
func (s *State) ForgetMember(p string) {
	p = path.Clean(p)
	s.locked(func() {
		for name, a := range s.artifacts {
			_, member := a.Members[p]
			if !member && !slices.Contains(a.Files, p) {
				continue
			}
			a.Members = maps.Clone(a.Members)
			delete(a.Members, p)
			a.Files = slices.DeleteFunc(slices.Clone(a.Files), func(f string) bool { return f == p })
			setDeep(s, s.artifacts, name, a)
		}
	})
}

// Empty reports whether the state records nothing nodeup did.
func (s *State) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)+len(s.artifacts)+len(s.trees)+len(s.units)+len(s.dirs)+len(s.restarts) == 0
}

// Snapshot is a copy of everything the state records, for reading it
// whole (nodeup state, nodeup reset).
type Snapshot struct {
	Files     map[string]string   `json:"files"`
	Artifacts map[string]Artifact `json:"artifacts"`
	Trees     map[string]Tree     `json:"trees"`
	Units     map[string]Unit     `json:"units"`
	Dirs      []string            `json:"dirs"`
	Restarts  map[string]string   `json:"restarts"`
}

// Snapshot returns a copy of the record.
func (s *State) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Snapshot{Files: maps.Clone(s.files), Artifacts: map[string]Artifact{}, Trees: map[string]Tree{},
		Units: map[string]Unit{}, Dirs: slices.Sorted(maps.Keys(s.dirs)), Restarts: maps.Clone(s.restarts)}
	for k, a := range s.artifacts {
		a.Files, a.Trees, a.Members = slices.Clone(a.Files), slices.Clone(a.Trees), maps.Clone(a.Members)
		out.Artifacts[k] = a
	}
	for k, t := range s.trees {
		out.Trees[k] = maps.Clone(t)
	}
	for k, u := range s.units {
		u.Links = slices.Clone(u.Links)
		out.Units[k] = u
	}
	return out
}

// ArtifactOf names the artifact that installed node path p, if any.
func (snap Snapshot) ArtifactOf(p string) string {
	for name, a := range snap.Artifacts {
		if slices.Contains(a.Files, p) || slices.Contains(a.Trees, p) {
			return name
		}
	}
	return ""
}

// InstalledVersion is the version of the artifact nodeup recorded
// installing node file p, or "" (also for a nil State: none could be read).
func (s *State) InstalledVersion(p string) string {
	if s == nil {
		return ""
	}
	p = path.Clean(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.artifacts {
		if slices.Contains(a.Files, p) {
			return a.Version
		}
	}
	return ""
}

// RestartDue notes that a unit must restart because step cause changed:
// a run killed before the restart leaves it due, and the next run does it.
func (s *State) RestartDue(unit, cause string) {
	s.locked(func() { set(s, s.restarts, unit, cause) })
}

// Restarted notes that a unit was (re)started: no restart is due.
func (s *State) Restarted(unit string) {
	s.locked(func() { drop(s, s.restarts, unit) })
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

// RecordImage notes what the pinned archive of image ref gives it.
func (s *State) RecordImage(ref string, im Image) {
	s.locked(func() { set(s, s.images, ref, im) })
}

// Image returns what was recorded of the pinned archive of image ref.
func (s *State) Image(ref string) (Image, bool) {
	if s == nil {
		return Image{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	im, ok := s.images[ref]
	return im, ok
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
	return !s.holds(want, got), nil
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
	key, keyNew := s.key, s.keyNew
	b, err := json.MarshalIndent(stateFile{Version: Version, Files: s.files, Stamps: s.stamps, Artifacts: s.artifacts, Trees: s.trees,
		Units: s.units, Dirs: slices.Sorted(maps.Keys(s.dirs)), Restarts: s.restarts, Verified: s.verified, Images: s.images}, "", "  ")
	if err == nil {
		s.dirty = false
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// The key goes first: a record of marks without it would make every
	// private file look changed.
	if keyNew {
		if err := h.WriteFile(paths.StateKeyFile, key, 0o600); err != nil {
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
			return err
		}
		s.mu.Lock()
		s.keyNew = false
		s.mu.Unlock()
	}
	if err := h.WriteFile(paths.StateFile, append(b, '\n'), 0o644); err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return err
	}
	return nil
}
