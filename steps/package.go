package steps

import (
	"context"
	"fmt"
	"sync"

	"github.com/nodeup/nodeup/node/pkgmgr"
)

// Package installs a distribution package with apt-get or dnf.
type Package struct {
	Name    string // the package name, e.g. containerd
	Version string // empty: any version
	// Binaries are the paths the package is expected to provide.
	Binaries []string
}

func (p *Package) Kind() string { return "package" }
func (p *Package) Key() string  { return p.Name }
func (p *Package) Describe() string {
	v := p.Version
	if v == "" {
		v = "any version"
	}
	return fmt.Sprintf("%s (%s) from the distribution", p.Name, v)
}

// Writes lists the binaries the package provides.
func (p *Package) Writes() []string { return p.Binaries }

var (
	_ Scheduled  = (*Package)(nil)
	_ Rollbacker = (*Package)(nil)
)

// Weight: a package downloads and unpacks, which takes seconds.
func (p *Package) Weight() int { return 10 }

// RollbackFiles is false: a package manager's upgrade is not nodeup's to
// take back.
func (p *Package) RollbackFiles() ([]string, bool) { return nil, false }

// Check says whether the package is installed at the version wanted.
func (p *Package) Check(ctx context.Context, env *Env) (Change, error) {
	return p.converge(ctx, env, false)
}

// Apply installs the package with the host's package manager.
func (p *Package) Apply(ctx context.Context, env *Env) (Change, error) {
	return p.converge(ctx, env, true)
}

// packages serialises package installs: apt and dnf hold one lock per host.
var packages sync.Mutex

func (p *Package) converge(ctx context.Context, env *Env, apply bool) (Change, error) {
	if env.Packages == nil {
		return Change{}, fmt.Errorf("package %s: no package manager available", p.Name)
	}
	if !env.runsRootPrograms() {
		// Asking which version is installed already runs the image's
		// dpkg-query or rpm, as root, on this host.
		return Change{}, fmt.Errorf("package %s: under --root %s nodeup runs none of the image's programs, and its apt-get or dnf would run as root on this host; install the package in the image's own build (or apply on the booted node), or use source = \"release\"", p.Name, env.Host.Root())
	}
	packages.Lock()
	defer packages.Unlock()
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
		return Change{Action: NoOp, Reason: fmt.Sprintf("%s %s installed", p.Name, have)}, nil
	case ok:
		ch = Change{Action: Update, Reason: fmt.Sprintf("%s %s installed, profile wants %s (%s)", p.Name, have, p.Version, mgr.Name())}
	default:
		v := p.Version
		if v == "" {
			v = "the candidate version"
		}
		ch = Change{Action: Create, Reason: fmt.Sprintf("install %s %s with %s", p.Name, v, mgr.Name())}
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
