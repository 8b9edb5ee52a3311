// Package converge gives every kind of step a Check and an Apply and runs
// a step graph against a host. A step checks the host first and changes
// only what differs, so a second run changes nothing; run with apply=false
// it is the plan.
package converge

import (
	"context"
	"sync"

	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/steps"
)

// Phase selects what a run does (SPEC section 2).
type Phase string

const (
	// PhaseBake installs artifacts, writes files and enables units; it
	// starts and verifies nothing (image builds, chroots).
	PhaseBake Phase = "bake"
	// PhaseBoot starts or restarts what changed and verifies.
	PhaseBoot Phase = "boot"
	// PhaseAll is both.
	PhaseAll Phase = "all"
)

// Outcome is what a step did or would do.
type Outcome string

const (
	Create Outcome = "create"
	Update Outcome = "update"
	NoOp   Outcome = "no-op"
	// Skip is a step that does not belong to this phase or host.
	Skip Outcome = "skip"
)

// Change is a step's outcome with the reason and, for files, a diff.
type Change struct {
	Outcome Outcome `json:"action"`
	Reason  string  `json:"reason,omitempty"`
	Diff    string  `json:"diff,omitempty"`
}

// Changed reports whether the step changes (or changed) the host.
func (c Change) Changed() bool { return c.Outcome == Create || c.Outcome == Update }

// Env is what a step sees of the node: the host behind --root and the
// services it may use. A nil Systemd means no running systemd (an image
// build or --root): units are enabled by writing links and nothing starts.
// A nil Kernel means the running kernel is not the node's (--root).
type Env struct {
	Host     *host.Host
	State    *host.State
	Phase    Phase
	Systemd  systemd.Manager
	Fetcher  *fetch.Fetcher
	Packages func() (pkgmgr.Manager, error)
	Kernel   *kernel.Kernel
	// Dial connects to the CRI endpoint; nil means cri.Dial.
	Dial func(ctx context.Context, endpoint string) (*cri.Client, error)

	// Changed reports whether a step changed the host earlier in this run
	// (in a plan: would change). Set by Run.
	Changed func(id string) bool
	// Action returns the action of another step of the graph. Set by Run.
	Action func(id string) steps.Action
	// Warnf reports something the operator should know that does not fail
	// the run (a kernel that refuses a module inside a container).
	Warnf func(format string, args ...any)
	// Logf reports progress.
	Logf func(format string, args ...any)
	// Verified receives the verification report.
	Verified func(cri.Report)
	// Checkpoint, when set, is called after each step that changed the
	// host, to persist State: a run killed later does not forget what it
	// wrote and take its own files for someone else's.
	Checkpoint func()

	// packages serialises package installs: apt and dnf hold one lock.
	packages sync.Mutex
}

// startsThings reports whether this run starts units and talks to them.
func (e *Env) startsThings() bool { return e.Phase != PhaseBake && e.Systemd != nil }

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
