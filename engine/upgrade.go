package engine

import (
	"fmt"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// VersionChange is an artifact moving from one release to another.
type VersionChange struct {
	Step string `json:"step,omitempty"`
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Upgrade reports whether the change goes to a newer version.
func (c VersionChange) Upgrade() bool { return profile.CompareVersions(c.To, c.From) > 0 }

// VersionChanges lists the artifacts g installs at another version than
// the state records as installed. Releases recorded without a version (a
// state from an older nodeup) are not listed.
func VersionChanges(g *graph.Graph, st *state.State) []VersionChange {
	var out []VersionChange
	for _, v := range g.Order() {
		r, ok := v.Action.(steps.Released)
		if !ok {
			continue
		}
		name, release := r.Release()
		rec, ok := st.Artifact(name)
		if !ok || rec.Version == "" || release.Version == "" || profile.CompareVersions(rec.Version, release.Version) == 0 {
			continue
		}
		out = append(out, VersionChange{Step: v.ID, Name: name, From: rec.Version, To: release.Version})
	}
	return out
}

// Schema is the config schema a release of an artifact reads (containerd's
// config.toml version); 0 for an artifact without one or a version it
// cannot read.
type Schema func(artifact, version string) int

// SchemaDowngrade is a change to a release that reads an older config
// schema than the one installed: what the newer release wrote may not be
// readable by the older.
type SchemaDowngrade struct {
	VersionChange
	FromSchema, ToSchema int
}

func (d SchemaDowngrade) Error() string {
	return fmt.Sprintf("%s: %s %s -> %s is a downgrade across config schemas (version %d -> %d): %s %s may not read what %s %s left behind; nothing was changed. Pass --allow-downgrade to apply it anyway",
		d.Step, d.Name, d.From, d.To, d.FromSchema, d.ToSchema, d.Name, d.To, d.Name, d.From)
}

// SchemaDowngrades lists the version changes of g that go to a release
// reading an older config schema.
func SchemaDowngrades(g *graph.Graph, st *state.State, schema Schema) []SchemaDowngrade {
	var out []SchemaDowngrade
	for _, c := range VersionChanges(g, st) {
		from, to := schema(c.Name, c.From), schema(c.Name, c.To)
		if from != 0 && to != 0 && to < from {
			out = append(out, SchemaDowngrade{VersionChange: c, FromSchema: from, ToSchema: to})
		}
	}
	return out
}
