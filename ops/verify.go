package ops

import (
	"context"
	"time"

	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps"
)

// VerifyOptions are what verify is asked.
type VerifyOptions struct {
	// Path is the profile whose checks run; "" checks the default socket,
	// with no handler or plugin checks.
	Path string
	// Endpoint replaces the profile's CRI endpoint, when set.
	Endpoint string
	// Pod also runs a pod sandbox and a container through each handler.
	Pod bool
	// Timeout is how long to wait for the socket without a profile.
	Timeout time.Duration
}

// Verify asks the runtime over CRI whether the node works, as apply's last
// step does. A report comes back whether the checks pass or not; an error
// is a verification that could not run (a socket that never appeared).
func Verify(ctx context.Context, c *Config, o VerifyOptions) (*cri.Report, error) {
	v := &steps.Verify{Endpoint: "unix://" + paths.ContainerdSocket, Timeout: o.Timeout}
	if o.Path != "" {
		_, g, err := c.LoadGraph(o.Path)
		if err != nil {
			return nil, err
		}
		if found := steps.VerifyOf(g); found != nil {
			v = found
		}
	}
	if o.Endpoint != "" {
		v.Endpoint = o.Endpoint
	}
	if o.Pod {
		v.Pod = true
	}
	h, err := host.New(c.Root)
	if err != nil {
		return nil, err
	}
	report, err := v.Run(ctx, &steps.Env{Host: h})
	if err != nil {
		return nil, err
	}
	return &report, nil
}
