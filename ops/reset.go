package ops

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
)

// ResetOptions are what reset is asked.
type ResetOptions struct {
	Purge bool // also remove the download cache
	Wait  bool // queue behind another nodeup holding the lock
	// Confirm hears, with the lock held and before anything changes, the
	// steps of a reset that has something to do; false or an error leaves
	// the node as it is. nil goes on.
	Confirm func(steps []engine.ResetStep) (bool, error)
}

// ResetReport is what a reset did, or would have done.
type ResetReport struct {
	// Steps are the reset's steps, each with its error when it failed.
	Steps []engine.ResetStep
	// Changes counts the steps that change the node; 0: nothing to reset.
	Changes int
	// Done says every step ran.
	Done bool
}

// ErrResetCancelled is a reset its Confirm declined.
var ErrResetCancelled = errors.New("reset cancelled; nothing was changed")

// Reset takes nodeup's work off the node using only its state: under the
// lock, it plans the reset from the state read again, asks Confirm, and
// runs the steps. A report comes back with an error once the steps are
// known: Confirm's, ErrResetCancelled, or a step's.
func Reset(ctx context.Context, c *Config, o ResetOptions) (*ResetReport, error) {
	env, cleanup, err := c.NewEnv(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	h := env.Host
	release, err := h.Lock(ctx, o.Wait, func(holder int) {
		env.Logf("waiting for another nodeup (pid %d) to release %s", holder, paths.LockFile)
	})
	if err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	defer release()
	// Read again with the lock held: an apply may have changed it.
	if env.State, err = state.Load(h); err != nil {
		return nil, err
	}
	p, err := engine.PlanReset(ctx, env, engine.ResetOptions{Purge: o.Purge})
	if err != nil {
		return nil, err
	}
	r := &ResetReport{Steps: p.Steps, Changes: p.Changes()}
	if r.Changes == 0 {
		r.Done = true
		return r, nil
	}
	if o.Confirm != nil {
		if ok, err := o.Confirm(p.Steps); err != nil || !ok {
			return r, cmp.Or(err, ErrResetCancelled)
		}
	}
	err = p.Run(ctx)
	r.Steps, r.Done = p.Steps, err == nil
	return r, err
}
