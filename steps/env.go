package steps

import (
	"context"
	"time"

	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/state"
)

// Env is what a step sees of the node: the host behind --root and the
// services it may use. A nil Systemd means no running systemd (an image
// build or --root): units are enabled by writing links and nothing starts.
// A nil Kernel means the running kernel is not the node's (--root).
type Env struct {
	Host     *host.Host
	State    *state.State
	Phase    Phase
	Systemd  systemd.Manager
	Fetcher  *fetch.Fetcher
	Packages func() (pkgmgr.Manager, error)
	Kernel   *kernel.Kernel
	// Dial connects to the CRI endpoint; nil means cri.Dial.
	Dial func(ctx context.Context, endpoint string) (*cri.Client, error)
	// ImportImage imports an image archive into containerd's k8s.io
	// namespace with ctr; nil means images.Import.
	ImportImage func(ctx context.Context, ctr, socket, archive string) error
	// RunningKubelet is the pid of the node's running kubelet, or 0; nil
	// means facts.RunningKubelet.
	RunningKubelet func() int
	// RunsRootPrograms lets a root other than "/" have its programs run
	// (a test's root of its own scripts). Otherwise the root is an image,
	// untrusted input: nothing under it is executed, only read.
	RunsRootPrograms bool

	// Run is the walk the step is part of; nil for a step checked or
	// applied on its own, which then sees no other step's change.
	Run Run
	// Warnf reports something the operator should know that does not fail
	// the run (a kernel that refuses a module inside a container).
	Warnf func(format string, args ...any)
	// Logf reports progress.
	Logf func(format string, args ...any)
	// Verified receives the verification report.
	Verified func(cri.Report)
}

// Run is what a step may know of the other steps of its walk.
type Run interface {
	// Changed reports whether a step changed the node earlier in this run
	// (in a plan: would change).
	Changed(id string) bool
	// Deleted reports whether a step took what it writes off the node
	// earlier in this run (in a plan: would): a Prune's delete.
	Deleted(id string) bool
	// Writes lists the node paths another step of the graph writes.
	Writes(id string) []string
	// Finished is when a step of this walk finished (its writes are on the
	// node from then on); ok is false for one that has not.
	Finished(id string) (at time.Time, ok bool)
}

func (e *Env) changed(id string) bool { return e.Run != nil && e.Run.Changed(id) }

func (e *Env) deleted(id string) bool { return e.Run != nil && e.Run.Deleted(id) }

func (e *Env) finished(id string) (time.Time, bool) {
	if e.Run == nil {
		return time.Time{}, false
	}
	return e.Run.Finished(id)
}

func (e *Env) writes(id string) []string {
	if e.Run == nil {
		return nil
	}
	return e.Run.Writes(id)
}

// runsRootPrograms reports whether programs found under the root may be
// run: on the machine's own "/", never in an image (--root).
func (e *Env) runsRootPrograms() bool { return e.Host.Root() == "/" || e.RunsRootPrograms }

// StartsThings reports whether this run starts units and talks to them.
func (e *Env) StartsThings() bool { return e.Phase != PhaseBake && e.Systemd != nil }

// runningKernel is the node's kernel when this run changes it now: not in
// an image build (--phase bake) nor under --root, where the kernel running
// is not the node's and modules-load.d and sysctl.d take effect at boot.
func (e *Env) runningKernel() *kernel.Kernel {
	if e.Phase == PhaseBake {
		return nil
	}
	return e.Kernel
}

func (e *Env) warnf(format string, args ...any) {
	if e.Warnf != nil {
		e.Warnf(format, args...)
	}
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}
