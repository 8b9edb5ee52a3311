package steps

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/paths"
)

// Sysctl is one kernel parameter applied now (boot) and at every boot.
type Sysctl struct{ Name, Value string }

func (s *Sysctl) Kind() string     { return "sysctl" }
func (s *Sysctl) Key() string      { return s.Name }
func (s *Sysctl) Describe() string { return s.Name + " = " + s.Value }

// Writes is empty: sysctl.d is a File step of its own, and /proc/sys is
// not a file nodeup keeps.
func (s *Sysctl) Writes() []string { return nil }

// Check compares the running kernel's value with the profile's.
func (s *Sysctl) Check(ctx context.Context, env *Env) (Change, error) {
	return s.converge(ctx, env, false)
}

// Apply sets the parameter now; sysctl.d sets it at boot.
func (s *Sysctl) Apply(ctx context.Context, env *Env) (Change, error) {
	return s.converge(ctx, env, true)
}

func (s *Sysctl) converge(ctx context.Context, env *Env, apply bool) (Change, error) {
	k := env.runningKernel()
	if k == nil {
		return Change{Action: Skip, Reason: "set at boot from " + paths.SysctlDir}, nil
	}
	cur, err := k.ReadSysctl(s.Name)
	if errors.Is(err, kernel.ErrUnknownSysctl) {
		// A plan runs before the module steps load anything (br_netfilter
		// adds net.bridge.*): only an apply knows the sysctl is missing.
		if apply {
			env.warnf("sysctl %s does not exist in this kernel (is its module loaded?); it is set at boot from %s", s.Name, paths.SysctlDir)
		}
		return Change{Action: NoOp, Reason: "not in this kernel"}, nil
	}
	if err != nil {
		return Change{}, err
	}
	if cur == s.Value {
		return Change{Action: NoOp, Reason: "= " + cur}, nil
	}
	if p, err := kernel.SysctlPath(k.ProcSys, s.Name); err == nil && unix.Access(p, unix.W_OK) != nil {
		env.warnf("sysctl %s is %s, not %s, and %s is read-only here (a container?); it is set at boot from %s", s.Name, cur, s.Value, k.ProcSys, paths.SysctlDir)
		return Change{Action: NoOp, Reason: "read-only here"}, nil
	}
	ch := Change{Action: Update, Reason: fmt.Sprintf("%s -> %s", cur, s.Value)}
	if !apply {
		return ch, nil
	}
	if err := k.ApplySysctl(ctx, s.Name, s.Value); err != nil {
		if kernel.IsRefused(err) {
			env.warnf("%v", err)
			return Change{Action: NoOp, Reason: "kernel refused"}, nil
		}
		return Change{}, err
	}
	return ch, nil
}
