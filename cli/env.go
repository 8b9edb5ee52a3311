package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nodeup/nodeup/engine/state"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/steps"
)

// signalContext is cancelled by SIGINT and SIGTERM, so an interrupted
// apply stops between atomic steps.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func parsePhase(p string) (steps.Phase, error) {
	switch steps.Phase(p) {
	case steps.PhaseBake, steps.PhaseBoot, steps.PhaseAll:
		return steps.Phase(p), nil
	}
	return "", fmt.Errorf("--phase %q: use bake, boot or all", p)
}

// newEnv opens the host behind --root and the services a run may use.
func newEnv(ctx context.Context, s Streams, g *globalOptions) (*steps.Env, func(), error) {
	phase, err := parsePhase(g.phase)
	if err != nil {
		return nil, nil, err
	}
	h, err := host.New(g.root)
	if err != nil {
		return nil, nil, err
	}
	st, err := state.Load(h)
	if err != nil {
		return nil, nil, err
	}
	logf := func(format string, args ...any) { logLine(s.Err, g.logFormat, "info", fmt.Sprintf(format, args...)) }
	env := &steps.Env{
		Host:  h,
		State: st,
		Phase: phase,
		Logf:  logf,
		Warnf: onceEach(func(msg string) { logLine(s.Err, g.logFormat, "warning", msg) }),
		Packages: func() (pkgmgr.Manager, error) {
			return pkgmgr.Detect(h)
		},
	}
	cleanup := func() {}
	if g.root == "/" {
		env.Kernel = kernel.Local()
	}
	if systemd.Running(g.root) {
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
	env.Fetcher = &fetch.Fetcher{CacheDir: cache, Progress: s.Err, IsTerminal: terminal(s.Err), Log: logf}
	return env, cleanup, nil
}
