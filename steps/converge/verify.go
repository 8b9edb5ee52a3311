package converge

import (
	"context"
	"fmt"
	"strings"

	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/steps"
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

// checkApplyVerify asks the runtime over CRI whether the node works. It
// changes nothing; in a plan, or where nothing was started, it waits.
func checkApplyVerify(ctx context.Context, env *Env, v *steps.Verify, apply bool) (Change, error) {
	if !env.startsThings() {
		return Change{Outcome: Skip, Reason: "nothing runs in this phase: verified at boot"}, nil
	}
	if !apply {
		return Change{Outcome: Skip, Reason: "verified after apply"}, nil
	}
	report, err := Verify(ctx, env, v)
	if err != nil {
		return Change{}, err
	}
	if !report.OK() {
		return Change{}, &VerifyError{Failed: report.Failed()}
	}
	return Change{Outcome: NoOp, Reason: fmt.Sprintf("%d checks passed", len(report.Checks))}, nil
}

// Verify dials the runtime, waiting up to the step's timeout for its
// socket, and runs every check; the report goes to env.Verified too.
func Verify(ctx context.Context, env *Env, v *steps.Verify) (cri.Report, error) {
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
		ContainerdConfig:    v.ContainerdConfig, ReadFile: env.Host.ReadFile,
	})
	if env.Verified != nil {
		env.Verified(report)
	}
	return report, nil
}
