package ops

import (
	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/state"
)

// Facts reports what nodeup detects about the node under the root, and
// the preflight plan and apply check before they start. Under a root that
// is not this machine's /, nothing found there is run: the versions are
// the ones nodeup recorded installing.
func Facts(c *Config) (*facts.Facts, error) {
	h, err := host.New(c.Root)
	if err != nil {
		return nil, err
	}
	st, _ := state.Load(h) // facts never fail: an unreadable state records no version
	f := facts.Gather(h, c.Root == "/", st.InstalledVersion)
	return &f, nil
}
