package ops

import (
	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/host"
)

// Facts reports what nodeup detects about the node under the root, and
// the preflight plan and apply check before they start.
func Facts(c *Config) (*facts.Facts, error) {
	h, err := host.New(c.Root)
	if err != nil {
		return nil, err
	}
	f := facts.Gather(h, c.Root == "/")
	return &f, nil
}
