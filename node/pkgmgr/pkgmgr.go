// Package pkgmgr installs distribution packages with apt-get or dnf and
// asks dpkg or rpm what is installed. Commands go through a Runner, so
// tests assert the exact argv without a package manager on the machine.
// Under a root other than "/", commands run chrooted into it.
package pkgmgr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Root maps an absolute node path to the real path under the node root.
type Root interface {
	Path(p string) (string, error)
}

// Cmd is one command a Manager runs.
type Cmd struct {
	Env  []string // added to the environment, KEY=VALUE
	Argv []string
}

func (c Cmd) String() string {
	return strings.TrimSpace(strings.Join(c.Env, " ") + " " + strings.Join(c.Argv, " "))
}

// Runner runs a command and returns its combined output. A command that
// ran and exited non-zero returns an *ExitError.
type Runner func(ctx context.Context, c Cmd) ([]byte, error)

// ExitError is a command that exited with a non-zero status.
type ExitError struct {
	Argv   []string
	Code   int
	Output string
}

func (e *ExitError) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 2000 {
		out = "..." + out[len(out)-2000:]
	}
	return fmt.Sprintf("%s: exit status %d: %s", strings.Join(e.Argv, " "), e.Code, out)
}

// ExecRunner runs commands on this host.
func ExecRunner(ctx context.Context, c Cmd) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(os.Environ(), c.Env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out, &ExitError{Argv: c.Argv, Code: ee.ExitCode(), Output: string(out)}
	}
	return out, err
}

// Manager installs and queries distribution packages.
type Manager interface {
	// Name is "apt" or "dnf".
	Name() string
	// Installed returns the installed version of the package, ok=false when absent.
	Installed(ctx context.Context, name string) (version string, ok bool, err error)
	// Install installs the package at version ("" for the candidate version).
	Install(ctx context.Context, name, version string) error
}

// ErrNoPackageManager means neither apt-get nor dnf is under the root.
var ErrNoPackageManager = errors.New("no apt-get or dnf found")

// Detect finds apt-get or dnf under the root; commands run with ExecRunner.
func Detect(r Root) (Manager, error) { return DetectWith(r, ExecRunner) }

// DetectWith is Detect with the given Runner.
func DetectWith(r Root, run Runner) (Manager, error) {
	rootDir, err := r.Path("/")
	if err != nil {
		return nil, err
	}
	chroot := ""
	if rootDir != "/" {
		chroot = rootDir
	}
	switch {
	case present(r, "/usr/bin/apt-get") && present(r, "/usr/bin/dpkg-query"):
		return &Apt{Run: run, Chroot: chroot}, nil
	case present(r, "/usr/bin/dnf") && present(r, "/usr/bin/rpm"):
		return &Dnf{Run: run, Chroot: chroot}, nil
	}
	return nil, fmt.Errorf("%w under %s", ErrNoPackageManager, rootDir)
}

func present(r Root, p string) bool {
	real, err := r.Path(p)
	if err != nil {
		return false
	}
	fi, err := os.Stat(real)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// command builds the Cmd, chrooted when the root is not "/".
func command(chroot string, env []string, argv ...string) Cmd {
	if chroot != "" {
		argv = append([]string{"chroot", chroot}, argv...)
	}
	return Cmd{Env: env, Argv: argv}
}

// checkArgs refuses names and versions a package manager could read as
// options or several arguments.
func checkArgs(name, version string) error {
	if name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, " \t\n=/") {
		return fmt.Errorf("invalid package name %q", name)
	}
	if strings.HasPrefix(version, "-") || strings.ContainsAny(version, " \t\n=/") {
		return fmt.Errorf("invalid package version %q", version)
	}
	return nil
}

// VersionMatches reports whether an installed distribution version
// satisfies the wanted one: equal, or the wanted upstream version followed
// by a distribution suffix ("1.6.20" matches "1.6.20~ds1-1+b1" and
// "1.6.20-1.fc39"). An empty want matches anything.
func VersionMatches(want, have string) bool {
	if want == "" || want == have {
		return true
	}
	if !strings.HasPrefix(have, want) {
		return false
	}
	switch have[len(want)] {
	case '-', '~', '+':
		return true
	}
	return false
}

// Apt is Debian's apt-get with dpkg-query.
type Apt struct {
	Run    Runner
	Chroot string // run chrooted here when set
}

func (a *Apt) Name() string { return "apt" }

func (a *Apt) Installed(ctx context.Context, name string) (string, bool, error) {
	if err := checkArgs(name, ""); err != nil {
		return "", false, err
	}
	out, err := a.Run(ctx, command(a.Chroot, nil, "dpkg-query", "-W", "-f=${db:Status-Status}\t${Version}\n", name))
	var ee *ExitError
	if errors.As(err, &ee) && ee.Code == 1 && strings.Contains(ee.Output, "no packages found") {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("query package %s: %w", name, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		status, version, _ := strings.Cut(line, "\t")
		if status == "installed" {
			return version, true, nil
		}
	}
	return "", false, nil // known to dpkg but removed (config-files) or half-installed
}

func (a *Apt) Install(ctx context.Context, name, version string) error {
	if err := checkArgs(name, version); err != nil {
		return err
	}
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	argv := []string{"apt-get", "install", "-y", "-q", "--no-install-recommends",
		// On first boot cloud-init or unattended-upgrades may hold dpkg's
		// lock for a while: wait for it rather than fail.
		"-o", "DPkg::Lock::Timeout=300",
		// Keep config files nodeup or the admin changed; never prompt.
		"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}
	spec := name
	if version != "" {
		argv = append(argv, "--allow-downgrades")
		spec = name + "=" + version
	}
	argv = append(argv, spec)

	_, err := a.Run(ctx, command(a.Chroot, env, argv...))
	// These mean the package lists are missing or old, as on a fresh
	// cloud image: worth one `apt-get update`.
	stale := []string{"Unable to locate package", "has no installation candidate", "was not found"}
	var ee *ExitError
	if errors.As(err, &ee) && containsAny(ee.Output, stale) {
		if _, uerr := a.Run(ctx, command(a.Chroot, env, "apt-get", "update", "-q")); uerr != nil {
			return fmt.Errorf("install %s: %w (and apt-get update failed: %v)", spec, err, uerr)
		}
		_, err = a.Run(ctx, command(a.Chroot, env, argv...))
	}
	if err != nil {
		return fmt.Errorf("install %s: %w", spec, err)
	}
	return nil
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Dnf is Fedora's and RHEL's dnf with rpm.
type Dnf struct {
	Run    Runner
	Chroot string
}

func (d *Dnf) Name() string { return "dnf" }

func (d *Dnf) Installed(ctx context.Context, name string) (string, bool, error) {
	if err := checkArgs(name, ""); err != nil {
		return "", false, err
	}
	out, err := d.Run(ctx, command(d.Chroot, nil, "rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\n", name))
	var ee *ExitError
	if errors.As(err, &ee) && ee.Code == 1 && strings.Contains(ee.Output, "is not installed") {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("query package %s: %w", name, err)
	}
	lines := strings.Fields(string(bytes.TrimSpace(out)))
	if len(lines) == 0 {
		return "", false, nil
	}
	return lines[len(lines)-1], true, nil // several installed (kernels): the last
}

func (d *Dnf) Install(ctx context.Context, name, version string) error {
	if err := checkArgs(name, version); err != nil {
		return err
	}
	spec := name
	if version != "" {
		spec = name + "-" + version
	}
	if _, err := d.Run(ctx, command(d.Chroot, nil, "dnf", "install", "-y", "-q", spec)); err != nil {
		return fmt.Errorf("install %s: %w", spec, err)
	}
	return nil
}
