package steps

import (
	"context"
	"os"
	"path/filepath"

	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/paths"
)

// Module is a kernel module, loaded now (boot) and at every boot.
type Module struct{ Name string }

func (m *Module) Kind() string     { return "module" }
func (m *Module) Key() string      { return m.Name }
func (m *Module) Describe() string { return "kernel module " + m.Name }

// Writes is empty: modules-load.d is a File step of its own.
func (m *Module) Writes() []string { return nil }

// Check says whether the module is loaded.
func (m *Module) Check(ctx context.Context, env *Env) (Change, error) {
	return m.converge(ctx, env, false)
}

// Apply loads the module now; modules-load.d loads it at every boot. Where
// the kernel cannot load modules (a container), that is a warning, not a
// pending change: no run could do better.
func (m *Module) Apply(ctx context.Context, env *Env) (Change, error) {
	return m.converge(ctx, env, true)
}

func (m *Module) converge(ctx context.Context, env *Env, apply bool) (Change, error) {
	k := env.runningKernel()
	if k == nil {
		return Change{Action: Skip, Reason: "loaded at boot from " + paths.ModulesLoadDir}, nil
	}
	if k.ModuleLoaded(m.Name) {
		return Change{Action: NoOp, Reason: "loaded"}, nil
	}
	if why := cannotLoad(k); why != "" {
		env.warnf("kernel module %s is not loaded and cannot be loaded here (%s); it loads at boot from %s", m.Name, why, paths.ModulesLoadDir)
		return Change{Action: NoOp, Reason: "cannot load here: " + why}, nil
	}
	ch := Change{Action: Create, Reason: "modprobe " + m.Name}
	if !apply {
		return ch, nil
	}
	if err := k.LoadModule(ctx, m.Name); err != nil {
		if kernel.IsRefused(err) {
			env.warnf("%v", err)
			return Change{Action: NoOp, Reason: "kernel refused: " + err.Error()}, nil
		}
		return Change{}, err
	}
	return ch, nil
}

// cannotLoad says why this kernel cannot load modules, or "".
func cannotLoad(k *kernel.Kernel) string {
	if _, err := os.Stat(k.ProcModules); err != nil {
		return k.ProcModules + " missing: no loadable module support"
	}
	if _, err := os.Stat(filepath.Join(k.LibModules, k.Release)); err != nil {
		return filepath.Join(k.LibModules, k.Release) + " missing, as in a container"
	}
	return ""
}
