package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nodeup/nodeup/node/cri"
)

// VerifyError is a verification with failed checks.
type VerifyError struct{ Failed []cri.Result }

func (e *VerifyError) Error() string {
	var parts []string
	for _, f := range e.Failed {
		parts = append(parts, f.Name+": "+f.Detail)
	}
	return "verification failed: " + strings.Join(parts, "; ")
}

// Verify checks the runtime over CRI gRPC and the CNI plugins.
type Verify struct {
	Endpoint     string // unix:///run/containerd/containerd.sock
	Handlers     []string
	CgroupDriver string // expected: systemd | cgroupfs
	NetworkReady bool   // require NetworkReady
	Timeout      time.Duration
	CNIBinDir    string
	CNIPlugins   []string
	// ContainerdConfig is the rendered config.toml, read for the cgroup
	// driver when the runtime does not report it.
	ContainerdConfig string
}

func (v *Verify) Kind() string { return "verify" }
func (v *Verify) Key() string  { return "cri" }
func (v *Verify) Describe() string {
	return fmt.Sprintf("CRI at %s: handlers %s, cgroup driver %s; %d CNI plugins", v.Endpoint, strings.Join(v.Handlers, ","), v.CgroupDriver, len(v.CNIPlugins))
}

// Writes is empty: verification changes nothing.
func (v *Verify) Writes() []string { return nil }

// Check changes nothing and asks nothing: a plan runs before the runtime
// is (re)started, so verification waits for the apply.
func (v *Verify) Check(_ context.Context, env *Env) (Change, error) {
	if !env.StartsThings() {
		return Change{Outcome: Skip, Reason: "nothing runs in this phase: verified at boot"}, nil
	}
	return Change{Outcome: Skip, Reason: "verified after apply"}, nil
}

// Apply asks the runtime over CRI whether the node works. It changes
// nothing; where nothing was started, it waits for the boot.
func (v *Verify) Apply(ctx context.Context, env *Env) (Change, error) {
	if !env.StartsThings() {
		return Change{Outcome: Skip, Reason: "nothing runs in this phase: verified at boot"}, nil
	}
	report, err := v.Run(ctx, env)
	if err != nil {
		return Change{}, err
	}
	if !report.OK() {
		return Change{}, &VerifyError{Failed: report.Failed()}
	}
	return Change{Outcome: NoOp, Reason: fmt.Sprintf("%d checks passed", len(report.Checks))}, nil
}

// Run dials the runtime, waiting up to the step's timeout for its socket,
// and runs every check; the report goes to env.Verified too.
func (v *Verify) Run(ctx context.Context, env *Env) (cri.Report, error) {
	dial := env.Dial
	if dial == nil {
		dial = cri.Dial
	}
	dctx, cancel := context.WithTimeout(ctx, v.Timeout)
	defer cancel()
	client, err := dial(dctx, v.Endpoint)
	if err != nil {
		return cri.Report{}, err
	}
	defer client.Close()
	binDir := v.CNIBinDir
	if binDir != "" {
		real, err := env.Host.Path(binDir)
		if err != nil {
			return cri.Report{}, err
		}
		binDir = real
	}
	report := cri.Check(ctx, client, cri.Expect{
		Handlers:            v.Handlers,
		CgroupDriver:        v.CgroupDriver,
		RequireNetworkReady: v.NetworkReady,
		CNIBinDir:           binDir,
		CNIPlugins:          v.CNIPlugins,
		ContainerdConfig:    v.ContainerdConfig,
		ReadFile:            env.Host.ReadFile,
	})
	if env.Verified != nil {
		env.Verified(report)
	}
	return report, nil
}
