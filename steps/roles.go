package steps

import (
	"context"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/state"
)

// What a kind adds to the walk's schedule, to rollbacks, upgrades and
// bundles beyond Step: small interfaces a kind implements in its own file.
// The engine and the commands ask for these, never for a kind.

// Scheduled is a kind whose step costs more than writing a file or asking
// the kernel: the walk starts the heaviest chains first.
type Scheduled interface {
	// Weight is the step's rough cost; a step that is not Scheduled
	// weighs 1.
	Weight() int
}

// WeightOf is the scheduling weight of a step.
func WeightOf(a graph.Action) int {
	if s, ok := a.(Scheduled); ok {
		return s.Weight()
	}
	return 1
}

// Starter is a kind that starts a service and restarts it when a step it
// names changed in the same run.
type Starter interface {
	// Starts names the service and the IDs of the steps whose change
	// restarts it; service is empty when the step starts nothing.
	Starts() (service string, restartOn []string)
}

// Reader is a kind whose service reads node files: a step that takes one
// of them off the node (a Prune) restarts it, as a change of one does.
type Reader interface {
	// Reads reports whether the service reads node path p; triggers are
	// the node paths the steps it restarts on write.
	Reads(p string, triggers []string) bool
	// RestartAlsoOn makes step id one the service restarts on.
	RestartAlsoOn(id string)
}

// Rollbacker is a kind whose change a rollback takes back in its own way.
// The change of a step that is not a Rollbacker is taken back by putting
// back the node paths it Writes.
type Rollbacker interface {
	// RollbackFiles lists the node paths a rollback keeps copies of; ok is
	// false when nodeup cannot take the change back (a package manager's
	// upgrade is not nodeup's to undo).
	RollbackFiles() (files []string, ok bool)
}

// RollbackFilesOf is what a rollback keeps to take s's change back.
func RollbackFilesOf(s Step) ([]string, bool) {
	if r, ok := s.(Rollbacker); ok {
		return r.RollbackFiles()
	}
	return s.Writes(), true
}

// Released is a kind that installs a release of a named artifact, which the
// state records by that name: version changes compare it, and a rollback
// puts the record back.
type Released interface {
	Release() (name string, r state.Release)
}

// Verifier is a kind that asks the running node whether it works; a
// rollback asks it again once the old inputs are back.
type Verifier interface {
	// Run checks the node and says what passed; it changes nothing.
	Run(ctx context.Context, env *Env) (cri.Report, error)
}
