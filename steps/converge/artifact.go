package converge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/steps"
)

// artifactKey is the state entry that records which artifact (by sha256)
// a step installed last.
func artifactKey(a *steps.Artifact) string { return "artifact:" + a.Name }

// checkApplyArtifact installs an artifact when it is not installed, when the
// profile pins another sha256, or when an installed file was changed since.
func checkApplyArtifact(ctx context.Context, env *Env, a *steps.Artifact, apply bool) (Change, error) {
	ch, err := artifactDrift(env, a)
	if err != nil || !ch.Changed() || !apply {
		return ch, err
	}
	path, err := env.Fetcher.Fetch(ctx, fetch.Candidates(a.Mirrors, a.URL, a.Upstream), a.SHA256)
	if err != nil {
		return Change{}, fmt.Errorf("download %s %s: %w", a.Name, a.Version, err)
	}
	arc, err := archive.Open(path, a.Format)
	if err != nil {
		return Change{}, err
	}
	arc.Log = env.logf
	// Backed up once the new content is known: a file that already holds it
	// (left by an earlier run killed halfway through its renames) has
	// nothing to lose.
	arc.BeforeCommit = func(to, sum string) error {
		if have, err := env.Host.SHA256(to); err == nil && have == sum {
			return nil
		}
		return backupForeign(env, to)
	}
	installed, err := arc.Install(env.Host, a.Files)
	if err != nil {
		return Change{}, fmt.Errorf("install %s %s from %s: %w", a.Name, a.Version, a.URL, err)
	}
	for _, t := range a.Trees {
		if err := arc.InstallTree(env.Host, t); err != nil {
			return Change{}, fmt.Errorf("install %s %s from %s: %w", a.Name, a.Version, a.URL, err)
		}
	}
	for _, in := range installed {
		env.State.Record(in.Path, in.SHA256)
	}
	env.State.Record(artifactKey(a), a.SHA256)
	return ch, nil
}

// artifactDrift compares the host with what the artifact installs.
func artifactDrift(env *Env, a *steps.Artifact) (Change, error) {
	recorded, ok := env.State.Lookup(artifactKey(a))
	if !ok {
		return Change{Outcome: Create, Reason: fmt.Sprintf("install %s %s (sha256 %.12s)", a.Name, a.Version, a.SHA256)}, nil
	}
	if recorded != a.SHA256 {
		return Change{Outcome: Update, Reason: fmt.Sprintf("install %s %s: the profile pins sha256 %.12s, the node has %.12s", a.Name, a.Version, a.SHA256, recorded)}, nil
	}
	for _, f := range archive.Recorded(a.Files, env.State.Under) {
		want, _ := env.State.Lookup(f.To)
		have, err := env.Host.SHA256(f.To)
		if errors.Is(err, fs.ErrNotExist) {
			return Change{Outcome: Update, Reason: fmt.Sprintf("reinstall %s %s: %s is missing", a.Name, a.Version, f.To)}, nil
		}
		if err != nil {
			return Change{}, err
		}
		if have != want {
			return Change{Outcome: Update, Reason: fmt.Sprintf("reinstall %s %s: %s was changed since nodeup installed it", a.Name, a.Version, f.To)}, nil
		}
	}
	for _, t := range a.Trees {
		fi, err := env.Host.Stat(t.To)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
			return Change{Outcome: Update, Reason: fmt.Sprintf("reinstall %s %s: %s is missing", a.Name, a.Version, t.To)}, nil
		}
		if err != nil {
			return Change{}, err
		}
	}
	return Change{Outcome: NoOp, Reason: fmt.Sprintf("%s %s installed", a.Name, a.Version)}, nil
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

// checkApplyPackage installs a distribution package.
func checkApplyPackage(ctx context.Context, env *Env, p *steps.Package, apply bool) (Change, error) {
	if env.Packages == nil {
		return Change{}, fmt.Errorf("package %s: no package manager available", p.Name)
	}
	env.packages.Lock()
	defer env.packages.Unlock()
	mgr, err := env.Packages()
	if err != nil {
		return Change{}, fmt.Errorf("package %s: %w; install it yourself or use source = \"release\"", p.Name, err)
	}
	have, ok, err := mgr.Installed(ctx, p.Name)
	if err != nil {
		return Change{}, err
	}
	var ch Change
	switch {
	case ok && (p.Version == "" || pkgmgr.VersionMatches(p.Version, have)):
		return Change{Outcome: NoOp, Reason: fmt.Sprintf("%s %s installed", p.Name, have)}, nil
	case ok:
		ch = Change{Outcome: Update, Reason: fmt.Sprintf("%s %s installed, profile wants %s (%s)", p.Name, have, p.Version, mgr.Name())}
	default:
		v := p.Version
		if v == "" {
			v = "the candidate version"
		}
		ch = Change{Outcome: Create, Reason: fmt.Sprintf("install %s %s with %s", p.Name, v, mgr.Name())}
	}
	if apply {
		if err := mgr.Install(ctx, p.Name, p.Version); err != nil {
			return Change{}, err
		}
		for _, b := range p.Binaries {
			if _, err := env.Host.Stat(b); err != nil {
				return Change{}, fmt.Errorf("package %s installed but %s is missing: %w", p.Name, b, err)
			}
		}
	}
	return ch, nil
}
