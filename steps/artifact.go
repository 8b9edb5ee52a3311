package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/state"
)

// Artifact downloads a release artifact, checks its sha256 while
// streaming, and installs members of it.
type Artifact struct {
	Name     string // component: containerd, runc, cni, crictl, kata, kubelet, credential-provider/NAME
	Version  string
	URL      string   // upstream URL
	Mirrors  []string // mirror base URLs, tried in order before URL
	Upstream bool     // whether URL itself may be tried
	SHA256   string
	Format   archive.Format
	Files    []archive.Placement
	Trees    []archive.Tree
}

func (a *Artifact) Kind() string { return "artifact" }
func (a *Artifact) Key() string  { return a.Name }
func (a *Artifact) Describe() string {
	return fmt.Sprintf("%s sha256:%.12s -> %d files, %d trees", a.release(), a.SHA256, len(a.Files), len(a.Trees))
}

// release names the artifact's release in messages: its name and version,
// or its name alone when the profile gives no version (a credential
// provider named by its url and sha256).
func (a *Artifact) release() string { return strings.TrimSpace(a.Name + " " + a.Version) }

// Writes lists the node paths the artifact installs.
func (a *Artifact) Writes() []string {
	var out []string
	for _, f := range a.Files {
		out = append(out, f.To)
	}
	for _, t := range a.Trees {
		out = append(out, t.To)
	}
	return out
}

var (
	_ Scheduled  = (*Artifact)(nil)
	_ Released   = (*Artifact)(nil)
	_ Rollbacker = (*Artifact)(nil)
)

// Weight: an artifact downloads and unpacks, which takes seconds.
func (a *Artifact) Weight() int { return 10 }

// Release is the release the state records as installed.
func (a *Artifact) Release() (string, state.Release) {
	return a.Name, state.Release{Version: a.Version, SHA256: a.SHA256}
}

// RollbackFiles are the installed files; the trees stay.
func (a *Artifact) RollbackFiles() ([]string, bool) {
	var out []string
	for _, f := range a.Files {
		out = append(out, f.To)
	}
	return out, true
}

// Check compares the node with what the artifact installs.
func (a *Artifact) Check(_ context.Context, env *Env) (Change, error) { return a.drift(env) }

// Apply installs the artifact when it is not installed, when the profile
// pins another sha256, or when an installed file was changed since.
func (a *Artifact) Apply(ctx context.Context, env *Env) (Change, error) {
	ch, err := a.drift(env)
	if err != nil || !ch.Changed() {
		return ch, err
	}
	installed, cached, err := a.installFiles(ctx, env)
	if err != nil {
		return Change{}, err
	}
	for _, in := range installed {
		env.State.Record(in.Path, in.SHA256)
		stamp(env, in.Path)
	}
	arc, err := archive.Open(cached, a.Format)
	if err != nil {
		return Change{}, err
	}
	arc.Log = env.logf
	for _, t := range a.Trees {
		rec, _ := env.State.Tree(t.To)
		incoming := sync.OnceValues(func() (state.Tree, error) { return archiveTree(arc, t.From) })
		if err := backupForeignTree(env, t.To, rec, incoming); err != nil {
			return Change{}, fmt.Errorf("install %s: back up %s first: %w", a.release(), t.To, err)
		}
		if err := arc.InstallTree(env.Host, t); err != nil {
			return Change{}, fmt.Errorf("install %s from %s: %w", a.release(), a.URL, err)
		}
		tree, err := readTree(env, t.To)
		if err != nil {
			return Change{}, fmt.Errorf("install %s: read back %s: %w", a.release(), t.To, err)
		}
		env.State.RecordTree(t.To, tree)
	}
	rec := state.Artifact{Version: a.Version, SHA256: a.SHA256, Members: map[string]string{}}
	for _, in := range installed {
		rec.Members[in.Path] = in.SHA256
	}
	for _, f := range a.Files {
		rec.Files = append(rec.Files, f.To)
	}
	for _, t := range a.Trees {
		rec.Trees = append(rec.Trees, t.To)
	}
	env.State.RecordArtifact(a.Name, rec)
	return ch, nil
}

// installFiles downloads the artifact and installs its files. They are
// unpacked into staging while the download streams, and put in place once
// it is verified: a file's unpacking overlaps its download. Staging that
// read a failed try (or met a bad archive) is thrown away and done again
// from the verified file, which says what is wrong with it, if anything.
// It returns the cached file's path too.
func (a *Artifact) installFiles(ctx context.Context, env *Env) ([]archive.Installed, string, error) {
	st := env.Fetcher.Stream(ctx, fetch.Candidates(a.Mirrors, a.URL, a.Upstream), a.SHA256, -1)
	defer st.Close()
	var staged *archive.Staged
	stageErr := errors.New("nothing staged")
	if len(a.Files) > 0 {
		arc, err := archive.OpenStream(path.Base(a.URL), st.Open, a.Format)
		if err != nil {
			return nil, "", err
		}
		arc.Log = env.logf
		arc.BeforeCommit = a.beforeCommit(env)
		staged, stageErr = arc.Stage(env.Host, a.Files)
	}
	cached, err := st.Wait()
	if err != nil {
		if staged != nil {
			staged.Cancel()
		}
		return nil, "", fmt.Errorf("download %s: %w", a.release(), err)
	}
	if len(a.Files) == 0 {
		return nil, cached, nil
	}
	if stageErr != nil {
		arc, err := archive.Open(cached, a.Format)
		if err != nil {
			return nil, "", err
		}
		arc.Log = env.logf
		arc.BeforeCommit = a.beforeCommit(env)
		if staged, err = arc.Stage(env.Host, a.Files); err != nil {
			return nil, "", fmt.Errorf("install %s from %s: %w", a.release(), a.URL, err)
		}
	}
	defer staged.Cancel()
	installed, err := staged.Commit()
	if err != nil {
		return nil, "", fmt.Errorf("install %s from %s: %w", a.release(), a.URL, err)
	}
	return installed, cached, nil
}

// beforeCommit backs up a file nodeup did not write before replacing it,
// once the new content is known: a file that already holds it (left by an
// earlier run killed halfway through its renames) has nothing to lose.
func (a *Artifact) beforeCommit(env *Env) func(to, sum string) error {
	return func(to, sum string) error {
		if have, err := env.Host.SHA256(to); err == nil && have == sum {
			return nil
		}
		return backupForeign(env, to)
	}
}

// drift compares the node with what the artifact installs.
func (a *Artifact) drift(env *Env) (Change, error) {
	rec, ok := env.State.Artifact(a.Name)
	recorded := rec.SHA256
	if !ok {
		return Change{Action: Create, Reason: fmt.Sprintf("install %s (sha256 %.12s)", a.release(), a.SHA256)}, nil
	}
	if recorded != a.SHA256 {
		return Change{Action: Update, Reason: fmt.Sprintf("install %s: the profile pins sha256 %.12s, the node has %.12s", a.release(), a.SHA256, recorded)}, nil
	}
	// Judged by the artifact's own members where the state has them: a
	// file of its that another component replaced is drift of this one,
	// and another component's files in a directory it spreads into are
	// not its own.
	under, own := env.State.Under, func(p string) (string, bool) { return env.State.Lookup(p) }
	if rec.Members != nil {
		under = func(dir string) []string {
			var out []string
			for _, p := range slices.Sorted(maps.Keys(rec.Members)) {
				if path.Dir(p) == path.Clean(dir) {
					out = append(out, p)
				}
			}
			return out
		}
		own = func(p string) (string, bool) {
			sum, ok := rec.Members[path.Clean(p)]
			return sum, ok
		}
	}
	for _, f := range archive.Recorded(a.Files, under) {
		fi, err := env.Host.Stat(f.To)
		if errors.Is(err, fs.ErrNotExist) {
			return Change{Action: Update, Reason: fmt.Sprintf("reinstall %s: %s is missing", a.release(), f.To)}, nil
		}
		if err != nil {
			return Change{}, err
		}
		want, _ := own(f.To)
		same, err := sameContent(env, f.To, fi, want)
		if err != nil {
			return Change{}, err
		}
		if !same {
			return Change{Action: Update, Reason: fmt.Sprintf("reinstall %s: %s was changed since nodeup installed it", a.release(), f.To)}, nil
		}
		if f.Mode != 0 && fi.Mode().Perm() != f.Mode.Perm() {
			return Change{Action: Update, Reason: fmt.Sprintf("reinstall %s: %s has mode %04o, the profile installs it %04o", a.release(), f.To, fi.Mode().Perm(), f.Mode.Perm())}, nil
		}
	}
	for _, t := range a.Trees {
		fi, err := env.Host.Stat(t.To)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
			return Change{Action: Update, Reason: fmt.Sprintf("reinstall %s: %s is missing", a.release(), t.To)}, nil
		}
		if err != nil {
			return Change{}, err
		}
		rec, ok := env.State.Tree(t.To)
		if !ok {
			// Installed by a nodeup that kept no record of the tree.
			return Change{Action: Update, Reason: fmt.Sprintf("reinstall %s: nodeup has no record of what it installed in %s", a.release(), t.To)}, nil
		}
		why, err := treeDrift(env, t.To, rec)
		if err != nil {
			return Change{}, err
		}
		if why != "" {
			return Change{Action: Update, Reason: fmt.Sprintf("reinstall %s: %s", a.release(), why)}, nil
		}
	}
	return Change{Action: NoOp, Reason: fmt.Sprintf("%s installed", a.release())}, nil
}

// sameContent reports whether the file at node path p, which Stat says is
// fi, still holds want, what nodeup recorded installing there. A file whose stamp
// is the one recorded is not read: hashing every installed binary on every
// run is most of what a converged node would cost. Otherwise it is hashed,
// and a match records its stamp for the next run.
func sameContent(env *Env, p string, fi fs.FileInfo, want string) (bool, error) {
	if want == "" {
		return false, nil
	}
	// The stamp vouches for the content last recorded at p, whoever wrote
	// it: only when that is what this artifact wants.
	if last, _ := env.State.Lookup(p); last != want {
		return false, nil
	}
	st, stamped := state.StampOf(fi)
	if stamped && env.State.Unchanged(p, st) {
		return true, nil
	}
	have, err := env.Host.SHA256(p)
	if err != nil || have != want {
		return false, err
	}
	if stamped {
		env.State.RecordStamp(p, st)
	}
	return true, nil
}

// stamp records how node file p looks now that its recorded content was
// written; a file that cannot be stat'ed is simply hashed next time.
func stamp(env *Env, p string) {
	if fi, err := env.Host.Stat(p); err == nil {
		if st, ok := state.StampOf(fi); ok {
			env.State.RecordStamp(p, st)
		}
	}
}

// backupForeign backs up a file nodeup did not write before replacing it.
func backupForeign(env *Env, p string) error {
	foreign, err := env.State.Foreign(env.Host, p)
	if err != nil || !foreign {
		return err
	}
	dst, err := env.Host.Backup(p)
	if err == nil {
		env.logf("backed up %s to %s", p, dst)
	}
	return err
}
