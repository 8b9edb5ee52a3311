package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// signalContext is cancelled by SIGINT and SIGTERM, so an interrupted
// apply stops between atomic steps.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// newEnv opens the host behind --root and the services a run may use. It
// creates nothing: a plan reads the node and leaves it as it was.
func (inv *invocation) newEnv(ctx context.Context) (*steps.Env, func(), error) {
	phase, err := parsePhase(inv.g.phase)
	if err != nil {
		return nil, nil, err
	}
	h, err := host.New(inv.g.root)
	if err != nil {
		return nil, nil, err
	}
	st, err := state.Load(h)
	if err != nil {
		return nil, nil, err
	}
	info := logf(inv.log, slog.LevelInfo)
	env := &steps.Env{
		Host:  h,
		State: st,
		Phase: phase,
		Logf:  info,
		Warnf: onceEach(logf(inv.log, slog.LevelWarn)),
		Packages: func() (pkgmgr.Manager, error) {
			return pkgmgr.Detect(h)
		},
	}
	cleanup := func() {}
	if inv.g.root == "/" {
		env.Kernel = kernel.Local()
	}
	if systemd.Running(inv.g.root) {
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
	env.Fetcher = inv.fetcher(cache)
	return env, cleanup, nil
}

// fetcher downloads into cache, showing progress as this run shows it:
// bars on a terminal, log lines elsewhere.
func (inv *invocation) fetcher(cache string) *fetch.Fetcher {
	var progress io.Writer = logBars{Writer: io.Discard, log: inv.log}
	if inv.screen != nil {
		progress = inv.screen
	}
	return &fetch.Fetcher{CacheDir: cache, Progress: progress, Log: logf(inv.log, slog.LevelInfo)}
}

// needRoot refuses an apply on this machine's / by another user before
// anything is read: it would fail halfway, on the first file it writes.
func (inv *invocation) needRoot(command string) error {
	if inv.g.root != "/" || inv.sys.euid == nil || inv.sys.euid() == 0 {
		return nil
	}
	return fmt.Errorf("nodeup %s changes this machine (/usr/local, /etc, systemd) and must run as root: run sudo nodeup %s, or pass --root DIR to build an image you can write", command, command)
}
