package ops

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// NewEnv opens the host behind the root and the services a run may use. It
// creates nothing: a plan reads the node and leaves it as it was.
func (c *Config) NewEnv(ctx context.Context) (*steps.Env, func(), error) {
	h, err := host.New(c.Root)
	if err != nil {
		return nil, nil, err
	}
	st, err := state.Load(h)
	if err != nil {
		return nil, nil, err
	}
	log := c.logger()
	env := &steps.Env{
		Host:  h,
		State: st,
		Phase: c.Phase,
		Logf:  logf(log, slog.LevelInfo),
		Warnf: onceEach(logf(log, slog.LevelWarn)),
		Packages: func() (pkgmgr.Manager, error) {
			return pkgmgr.Detect(h)
		},
	}
	cleanup := func() {}
	if c.Root == "/" {
		env.Kernel = kernel.Local()
	}
	if systemd.Running(c.Root) {
		m, err := systemd.NewDBus(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("systemd runs here but its D-Bus API does not answer: %w; check that dbus.service is running", err)
		}
		env.Systemd = m
		cleanup = func() { m.Close() }
	}
	cache, err := h.Path(paths.CacheDir)
	if err != nil {
		return nil, nil, err
	}
	env.Fetcher = c.Fetcher(cache)
	return env, cleanup, nil
}

// Fetcher downloads into cache, telling Progress and Log how it goes.
func (c *Config) Fetcher(cache string) *fetch.Fetcher {
	progress := c.Progress
	if progress == nil {
		progress = io.Discard
	}
	return &fetch.Fetcher{CacheDir: cache, Progress: progress, Log: logf(c.logger(), slog.LevelInfo)}
}

// onceEach says each distinct warning once per run: the plan pass and the
// apply pass meet the same kernel limits.
func onceEach(say func(format string, args ...any)) func(format string, args ...any) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		mu.Lock()
		defer mu.Unlock()
		if !seen[msg] {
			seen[msg] = true
			say("%s", msg)
		}
	}
}

// needRoot refuses a command that changes this machine's / when run by
// another user, before anything is read: it would fail halfway, on the
// first file it writes.
func (c *Config) needRoot(command string) error {
	if c.Root != "/" || c.EUID == nil || c.EUID() == 0 {
		return nil
	}
	return fmt.Errorf("nodeup %s changes this machine (/usr/local, /etc, systemd) and must run as root: run sudo nodeup %s, or pass --root DIR to build an image you can write", command, command)
}

// canVerify refuses an apply that should start and verify the node where
// systemd is not running (a chroot, a container, --root): only --phase
// bake may leave that to the boot, and an unverified success would say
// the node works when nothing checked it.
func (c *Config) canVerify(path string) error {
	if c.Phase == steps.PhaseBake || systemd.Running(c.Root) {
		return nil
	}
	where := "here"
	if c.Root != "/" {
		where = "under --root " + c.Root
	}
	return fmt.Errorf("%s: systemd is not running %s, so nodeup can neither start containerd nor verify it; use --phase bake to install and enable everything for the next boot, then nodeup apply --phase boot on the booted node", path, where)
}

// checkHost reports what the profile meets on this host (plan.CheckHost).
// Only when the root is "/" is the running kernel the node's; under --root
// it is the image builder's, so nothing is checked. It reads only the facts
// it checks: running containerd and runc for their versions (nodeup facts)
// would cost every plan and apply a tenth of a second.
func (c *Config) checkHost(p *profile.Profile, files map[string]*hcl.File) error {
	if c.Root != "/" {
		return nil
	}
	h, err := host.New("/")
	if err != nil {
		return err
	}
	cg := facts.ReadCgroup(h)
	pre := facts.GatherPreflight(h, true)
	diags := plan.CheckHost(p, plan.HostFacts{KVM: facts.HasKVM(h), CgroupV1: cg.Version == "v1",
		Controllers: cg.Controllers, Preflight: &pre, Module: kernel.Local().Module,
		Exists: func(path string) bool { _, err := h.Stat(path); return err == nil }})
	c.diagnostics(files, diags)
	if diags.HasErrors() {
		return fmt.Errorf("the profile does not fit this host: %s", CountDiags(diags))
	}
	return nil
}
