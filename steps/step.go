// Package steps holds the kinds of step a node graph is made of. Each kind
// lives in one file: its type, its Check (what would change, with a diff),
// its Apply, and the node paths it writes. A step checks the node first and
// changes only what differs, so a second run changes nothing. Steps know
// nothing about HCL, the graph walk (package graph) or the run around it
// (package engine).
package steps

import (
	"context"

	"github.com/nodeup/nodeup/graph"
)

// Step is one kind of thing nodeup makes true on a node.
type Step interface {
	graph.Action
	// Check says what Apply would change and why; it changes nothing.
	Check(ctx context.Context, env *Env) (Change, error)
	// Apply converges the node and says what it changed.
	Apply(ctx context.Context, env *Env) (Change, error)
	// Writes lists the node paths the step writes (files, trees, links).
	Writes() []string
}

// ID is the stable identifier of a step: "kind:key".
func ID(s graph.Action) string { return graph.ID(s) }

// Step IDs, one constructor per kind, for the graph builder's edges.
func DirID(p string) string         { return "dir:" + p }
func FileID(p string) string        { return "file:" + p }
func ArtifactID(name string) string { return "artifact:" + name }
func PackageID(name string) string  { return "package:" + name }
func UnitID(name string) string     { return "unit:" + name }
func ModuleID(name string) string   { return "module:" + name }
func SysctlID(name string) string   { return "sysctl:" + name }

// VerifyID is the ID of the verification step.
const VerifyID = "verify:cri"

// Phase selects what a run does (docs/commands.md, --phase).
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
	// Delete takes off the node what the profile no longer makes.
	Delete Outcome = "delete"
	NoOp   Outcome = "no-op"
	// Skip is a step that does not belong to this phase or host.
	Skip Outcome = "skip"
)

// Change is a step's outcome with the reason and, for files, a diff.
type Change struct {
	Action Outcome `json:"action"`
	Reason string  `json:"reason,omitempty"`
	Diff   string  `json:"diff,omitempty"`
}

// Changed reports whether the step changes (or changed) the host.
func (c Change) Changed() bool { return c.Action == Create || c.Action == Update || c.Action == Delete }
