package converge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/steps"
)

// checkApplyModule loads a kernel module now; modules-load.d loads it at
// every boot. Where the kernel cannot load modules (a container), that is a
// warning, not a pending change: no run could do better.
func checkApplyModule(ctx context.Context, env *Env, m *steps.Module, apply bool) (Change, error) {
	if env.Kernel == nil || env.Phase == PhaseBake {
		return Change{Outcome: Skip, Reason: "loaded at boot from /etc/modules-load.d"}, nil
	}
	k := env.Kernel
	if k.ModuleLoaded(m.Name) {
		return Change{Outcome: NoOp, Reason: "loaded"}, nil
	}
	if why := cannotLoad(k); why != "" {
		env.warnf("kernel module %s is not loaded and cannot be loaded here (%s); it loads at boot from /etc/modules-load.d", m.Name, why)
		return Change{Outcome: NoOp, Reason: "cannot load here: " + why}, nil
	}
	ch := Change{Outcome: Create, Reason: "modprobe " + m.Name}
	if !apply {
		return ch, nil
	}
	if err := k.LoadModule(ctx, m.Name); err != nil {
		if kernel.IsRefused(err) {
			env.warnf("%v", err)
			return Change{Outcome: NoOp, Reason: "kernel refused: " + err.Error()}, nil
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

// checkApplySysctl sets a kernel parameter now; sysctl.d sets it at boot.
func checkApplySysctl(ctx context.Context, env *Env, s *steps.Sysctl, apply bool) (Change, error) {
	if env.Kernel == nil || env.Phase == PhaseBake {
		return Change{Outcome: Skip, Reason: "set at boot from /etc/sysctl.d"}, nil
	}
	k := env.Kernel
	cur, err := k.ReadSysctl(s.Name)
	if errors.Is(err, kernel.ErrUnknownSysctl) {
		// A plan runs before the module steps load anything (br_netfilter
		// adds net.bridge.*): only an apply knows the sysctl is missing.
		if apply {
			env.warnf("sysctl %s does not exist in this kernel (is its module loaded?); it is set at boot from /etc/sysctl.d", s.Name)
		}
		return Change{Outcome: NoOp, Reason: "not in this kernel"}, nil
	}
	if err != nil {
		return Change{}, err
	}
	if cur == s.Value {
		return Change{Outcome: NoOp, Reason: "= " + cur}, nil
	}
	if p, err := kernel.SysctlPath(k.ProcSys, s.Name); err == nil && unix.Access(p, unix.W_OK) != nil {
		env.warnf("sysctl %s is %s, not %s, and %s is read-only here (a container?); it is set at boot from /etc/sysctl.d", s.Name, cur, s.Value, k.ProcSys)
		return Change{Outcome: NoOp, Reason: "read-only here"}, nil
	}
	ch := Change{Outcome: Update, Reason: fmt.Sprintf("%s -> %s", cur, s.Value)}
	if !apply {
		return ch, nil
	}
	if err := k.ApplySysctl(ctx, s.Name, s.Value); err != nil {
		if kernel.IsRefused(err) {
			env.warnf("%v", err)
			return Change{Outcome: NoOp, Reason: "kernel refused"}, nil
		}
		return Change{}, err
	}
	return ch, nil
}
