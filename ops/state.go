package ops

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// The records nodeup state reports. Their JSON is the command's, in
// snake_case; state.json and last-apply.json keep their own spelling.
type (
	// ArtifactRecord is an installed release artifact.
	ArtifactRecord struct {
		Name    string   `json:"name"`
		Version string   `json:"version,omitempty"`
		SHA256  string   `json:"sha256"`
		Files   []string `json:"files,omitempty"`
		Trees   []string `json:"trees,omitempty"`
		// Previous is the release this one replaced.
		Previous *state.Release `json:"previous,omitempty"`
		// RolledBack is the release an apply installed and took back.
		RolledBack *state.Failed `json:"rolled_back,omitempty"`
	}
	// FileRecord is a file nodeup wrote; Status and Backups are filled
	// where one record is shown.
	FileRecord struct {
		Path     string   `json:"path"`
		SHA256   string   `json:"sha256"`
		Artifact string   `json:"artifact,omitempty"`
		Status   string   `json:"status,omitempty"`
		Backups  []string `json:"backups,omitempty"`
	}
	// TreeRecord is a directory tree nodeup installed.
	TreeRecord struct {
		Path     string       `json:"path"`
		Artifact string       `json:"artifact,omitempty"`
		Entries  int          `json:"entries"`
		Members  []TreeMember `json:"members,omitempty"`
	}
	// TreeMember is one file or link of a tree, with what the node holds
	// there now.
	TreeMember struct {
		Path string `json:"path"`
		state.TreeEntry
		Status string `json:"status,omitempty"`
	}
	// UnitRecord is a unit nodeup enabled.
	UnitRecord struct {
		Name          string   `json:"name"`
		File          string   `json:"file,omitempty"`
		Links         []string `json:"links,omitempty"`
		Start         bool     `json:"start,omitempty"`
		Started       bool     `json:"started,omitempty"`
		EnabledBefore bool     `json:"enabled_before,omitempty"`
		// RestartDue says what change makes a restart due.
		RestartDue string `json:"restart_due,omitempty"`
	}
	// BackupRecord is a file nodeup replaced, with its backups.
	BackupRecord struct {
		Path    string   `json:"path"`
		Backups []string `json:"backups"`
	}
	// ApplyRecord is how the last apply ended.
	ApplyRecord struct {
		Time       time.Time `json:"time"`
		OK         bool      `json:"ok"`
		Changed    int       `json:"changed"`
		Failed     int       `json:"failed"`
		Verified   bool      `json:"verified"`
		RolledBack bool      `json:"rolled_back,omitempty"`
	}
)

// StateListing is everything the state records, each kind sorted.
type StateListing struct {
	StateFile string `json:"state_file"`
	// Recorded says the node has a state file.
	Recorded  bool             `json:"recorded"`
	Artifacts []ArtifactRecord `json:"artifacts"`
	Files     []FileRecord     `json:"files"`
	Trees     []TreeRecord     `json:"trees"`
	Units     []UnitRecord     `json:"units"`
	Dirs      []string         `json:"dirs"`
	Backups   []BackupRecord   `json:"backups"`
	LastApply *ApplyRecord     `json:"last_apply,omitempty"`
}

// StateItem is the one record nodeup state show found; Kind says which of
// the other fields is set.
type StateItem struct {
	Kind     string          `json:"kind"` // artifact, file, tree, tree member, unit, directory, backup
	Artifact *ArtifactRecord `json:"artifact,omitempty"`
	Files    []FileRecord    `json:"files,omitempty"`
	Trees    []TreeRecord    `json:"trees,omitempty"`
	Unit     *UnitRecord     `json:"unit,omitempty"`
	Dir      string          `json:"dir,omitempty"`
	Status   string          `json:"status,omitempty"`
	Backup   *BackupRecord   `json:"backup,omitempty"`
}

// ListState reads what nodeup recorded on the node under the root: the
// state file alone, no profile.
func ListState(c *Config) (*StateListing, error) {
	r, err := readRecord(c.Root)
	if err != nil {
		return nil, err
	}
	return r.list(), nil
}

// ShowState finds one record, with what the node holds there now: an
// artifact or unit by name, or a node path nodeup recorded (a file, a tree
// or one of its members, a directory it created, a file it backed up). An
// item the state does not record is an error.
func ShowState(c *Config, item string) (*StateItem, error) {
	r, err := readRecord(c.Root)
	if err != nil {
		return nil, err
	}
	if !path.IsAbs(item) {
		return r.showNamed(item)
	}
	return r.showPath(path.Clean(item))
}

// record is the node's state as nodeup state reads it.
type record struct {
	h         *host.Host
	st        *state.State
	exists    bool
	snap      state.Snapshot
	backups   map[string][]string
	lastApply *state.LastApply
}

func readRecord(root string) (*record, error) {
	h, err := host.New(root)
	if err != nil {
		return nil, err
	}
	r := &record{h: h}
	if r.exists, err = state.Exists(h); err != nil {
		return nil, err
	}
	st, err := state.Load(h)
	if err != nil {
		return nil, err
	}
	r.st, r.snap = st, st.Snapshot()
	if r.backups, err = h.Backups(); err != nil {
		return nil, err
	}
	if l, ok, err := state.ReadLastApply(h); err != nil {
		return nil, err
	} else if ok {
		r.lastApply = &l
	}
	return r, nil
}

func (r *record) list() *StateListing {
	l := &StateListing{StateFile: paths.StateFile, Recorded: r.exists, Dirs: r.snap.Dirs,
		Artifacts: []ArtifactRecord{}, Files: []FileRecord{}, Trees: []TreeRecord{}, Units: []UnitRecord{}, Backups: []BackupRecord{}}
	if a := r.lastApply; a != nil {
		l.LastApply = &ApplyRecord{Time: a.Time, OK: a.OK, Changed: a.Changed, Failed: a.Failed, Verified: a.Verified, RolledBack: a.RolledBack}
	}
	for _, name := range slices.Sorted(maps.Keys(r.snap.Artifacts)) {
		l.Artifacts = append(l.Artifacts, r.artifact(name))
	}
	for _, p := range slices.Sorted(maps.Keys(r.snap.Files)) {
		// A file holding a secret has no world-readable hash to show.
		l.Files = append(l.Files, FileRecord{Path: p, SHA256: state.Shown(r.snap.Files[p]), Artifact: r.snap.ArtifactOf(p)})
	}
	for _, p := range slices.Sorted(maps.Keys(r.snap.Trees)) {
		l.Trees = append(l.Trees, TreeRecord{Path: p, Artifact: r.snap.ArtifactOf(p), Entries: len(r.snap.Trees[p])})
	}
	for _, name := range slices.Sorted(maps.Keys(r.snap.Units)) {
		l.Units = append(l.Units, r.unit(name))
	}
	for _, p := range slices.Sorted(maps.Keys(r.backups)) {
		l.Backups = append(l.Backups, BackupRecord{p, r.backups[p]})
	}
	if l.Dirs == nil {
		l.Dirs = []string{}
	}
	return l
}

func (r *record) artifact(name string) ArtifactRecord {
	a := r.snap.Artifacts[name]
	return ArtifactRecord{Name: name, Version: a.Version, SHA256: a.SHA256, Files: a.Files, Trees: a.Trees,
		Previous: a.Previous, RolledBack: a.RolledBack}
}

func (r *record) unit(name string) UnitRecord {
	u := r.snap.Units[name]
	rec := UnitRecord{Name: name, File: u.File, Links: u.Links, Start: u.Start, Started: u.Started, EnabledBefore: u.EnabledBefore}
	if cause, ok := r.snap.Restarts[name]; ok {
		rec.RestartDue = cause + " changed"
	}
	return rec
}

// showNamed finds an artifact or a unit, with the files and trees it has.
func (r *record) showNamed(name string) (*StateItem, error) {
	if a, ok := r.snap.Artifacts[name]; ok {
		rec := r.artifact(name)
		it := &StateItem{Kind: "artifact", Artifact: &rec}
		for _, f := range a.Files {
			it.Files = append(it.Files, r.file(f))
		}
		for _, t := range a.Trees {
			it.Trees = append(it.Trees, r.tree(t))
		}
		return it, nil
	}
	if _, ok := r.snap.Units[name]; ok {
		u := r.unit(name)
		it := &StateItem{Kind: "unit", Unit: &u}
		if u.File != "" {
			it.Files = append(it.Files, r.file(u.File))
		}
		return it, nil
	}
	return nil, r.notFound(name, "nodeup state show takes a node path (absolute), an artifact name or a unit name")
}

// showPath finds a node path: a file, a tree or one of its members, a
// directory, a backup.
func (r *record) showPath(p string) (*StateItem, error) {
	if _, ok := r.snap.Files[p]; ok {
		return &StateItem{Kind: "file", Files: []FileRecord{r.file(p)}}, nil
	}
	if _, ok := r.snap.Trees[p]; ok {
		return &StateItem{Kind: "tree", Trees: []TreeRecord{r.tree(p)}}, nil
	}
	for dir, t := range r.snap.Trees {
		if rel, ok := strings.CutPrefix(p, dir+"/"); ok {
			if e, ok := t[rel]; ok {
				tr := TreeRecord{Path: dir, Artifact: r.snap.ArtifactOf(dir), Entries: len(t), Members: []TreeMember{r.member(dir, rel, e)}}
				return &StateItem{Kind: "tree member", Trees: []TreeRecord{tr}}, nil
			}
		}
	}
	if slices.Contains(r.snap.Dirs, p) {
		it := &StateItem{Kind: "directory", Dir: p, Status: "exists"}
		if fi, err := r.h.Stat(p); errors.Is(err, fs.ErrNotExist) {
			it.Status = "missing"
		} else if err == nil && !fi.IsDir() {
			it.Status = "not a directory"
		}
		return it, nil
	}
	if b, ok := r.backups[p]; ok {
		return &StateItem{Kind: "backup", Backup: &BackupRecord{p, b}}, nil
	}
	return nil, r.notFound(p, "nodeup state list shows what it has")
}

func (r *record) notFound(item, hint string) error {
	if !r.exists {
		return fmt.Errorf("state show %s: nodeup has no state on this node (%s)", item, paths.StateFile)
	}
	return fmt.Errorf("state show %s: %s records no such item; %s", item, paths.StateFile, hint)
}

// file is a recorded file with what the node holds there now.
func (r *record) file(p string) FileRecord {
	f := FileRecord{Path: p, SHA256: state.Shown(r.snap.Files[p]), Artifact: r.snap.ArtifactOf(p), Backups: r.backups[p]}
	f.Status = r.st.FileStatus(r.h, p)
	return f
}

// tree is a recorded tree with each member's status.
func (r *record) tree(dir string) TreeRecord {
	t := r.snap.Trees[dir]
	tr := TreeRecord{Path: dir, Artifact: r.snap.ArtifactOf(dir), Entries: len(t)}
	for _, rel := range slices.Sorted(maps.Keys(t)) {
		tr.Members = append(tr.Members, r.member(dir, rel, t[rel]))
	}
	return tr
}

func (r *record) member(dir, rel string, e state.TreeEntry) TreeMember {
	m := TreeMember{Path: path.Join(dir, rel), TreeEntry: e, Status: "as nodeup installed it"}
	why, err := steps.MemberDrift(r.h, m.Path, e)
	switch {
	case err != nil:
		m.Status = err.Error()
	case why != "":
		m.Status = strings.TrimPrefix(why, m.Path+" ")
	}
	return m
}
