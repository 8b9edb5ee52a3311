package cli

import "github.com/nodeup/nodeup/node/cri"

// verifyView is the runtime's verification: one line per check.
type verifyView struct{ r *cri.Report }

func (v verifyView) human(inv *invocation) { inv.table(v.r.Table) }

func (v verifyView) document() any { return v.r }

func (v verifyView) ok() bool { return v.r.OK() }

// err fails verify when a check failed.
func (v verifyView) err() error {
	if !v.r.OK() {
		return v.r.Err()
	}
	return nil
}
