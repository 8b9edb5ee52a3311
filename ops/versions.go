package ops

import (
	"errors"

	"github.com/nodeup/nodeup/engine"
	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/templates"
)

// configSchema is the config.toml schema a containerd release reads.
func configSchema(artifact, version string) int {
	if artifact != "containerd" {
		return 0
	}
	v, err := templates.ConfigVersionFor(version)
	if err != nil {
		return 0
	}
	return v
}

// checkVersions refuses a run that moves containerd to a release reading
// an older config schema, unless allowed (a plan says apply would refuse
// it). An apply logs the releases it moves.
func checkVersions(gr *graph.Graph, env *steps.Env, apply, allow bool) error {
	var errs []error
	for _, d := range engine.SchemaDowngrades(gr, env.State, configSchema) {
		switch {
		case allow:
			env.Warnf("%s: %s %s -> %s goes back across config schemas (version %d -> %d), as --allow-downgrade allows", d.Step, d.Name, d.From, d.To, d.FromSchema, d.ToSchema)
		default:
			errs = append(errs, d)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if apply {
		for _, c := range engine.VersionChanges(gr, env.State) {
			verb := "downgrade"
			if c.Upgrade() {
				verb = "upgrade"
			}
			env.Logf("%s %s %s -> %s", verb, c.Name, c.From, c.To)
		}
	}
	return nil
}
