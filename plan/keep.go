package plan

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
)

// KeepProfile adds to g the step that keeps the profile's snapshot in the
// node's profile directory (--phase bake), after every other step: a
// profile is kept for the boot only when the bake that carries it
// converged.
func KeepProfile(g *graph.Graph, files []SnapshotFile) {
	k := &steps.ProfileDir{Dir: paths.ProfileDir, Dirs: SnapshotDirs(files)}
	for _, f := range files {
		k.Files = append(k.Files, steps.KeptFile{Rel: f.Rel, Data: f.Data, Mode: f.Mode})
	}
	ids := g.IDs()
	g.Add(k, hcl.Range{}, ids...)
}
