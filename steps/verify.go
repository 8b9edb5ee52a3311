package steps

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/state"
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
	// Pod runs a pod sandbox and a container through each handler
	// (verify --pod, verify { pod = true }).
	Pod bool
	// PodImage is the pod's container image.
	PodImage string
	// PodAddress requires the pod to get an address: a CNI network is
	// configured.
	PodAddress bool
}

func (v *Verify) Kind() string { return "verify" }
func (v *Verify) Key() string  { return "cri" }
func (v *Verify) Describe() string {
	d := fmt.Sprintf("CRI at %s: handlers %s, cgroup driver %s; %d CNI plugins", v.Endpoint, strings.Join(v.Handlers, ","), v.CgroupDriver, len(v.CNIPlugins))
	if v.Pod {
		d += "; a pod from " + v.PodImage + " through each handler"
	}
	return d
}

var _ Verifier = (*Verify)(nil)

// VerifyOf is g's verification step, nil when g has none.
func VerifyOf(g *graph.Graph) *Verify {
	if s := g.Step(VerifyID); s != nil {
		v, _ := s.Action.(*Verify)
		return v
	}
	return nil
}

// Writes is empty: verification changes nothing.
func (v *Verify) Writes() []string { return nil }

// Check changes nothing and asks nothing: a plan runs before the runtime
// is (re)started, so verification waits for the apply.
func (v *Verify) Check(_ context.Context, env *Env) (Change, error) {
	if !env.StartsThings() {
		return Change{Action: Skip, Reason: "nothing runs in this phase: verified at boot"}, nil
	}
	return Change{Action: Skip, Reason: "verified after apply"}, nil
}

// Apply asks the runtime over CRI whether the node works. It changes
// nothing; where nothing was started, it waits for the boot.
func (v *Verify) Apply(ctx context.Context, env *Env) (Change, error) {
	if !env.StartsThings() {
		return Change{Action: Skip, Reason: "nothing runs in this phase: verified at boot"}, nil
	}
	report, err := v.run(ctx, env, true)
	if err != nil {
		return Change{}, err
	}
	if !report.OK() {
		return Change{}, &VerifyError{Failed: report.Failed()}
	}
	return Change{Action: NoOp, Reason: fmt.Sprintf("%d checks passed", len(report.Checks))}, nil
}

// Run dials the runtime, waiting up to the step's timeout for its socket,
// and runs every check; the report goes to env.Verified too.
func (v *Verify) Run(ctx context.Context, env *Env) (cri.Report, error) {
	return v.run(ctx, env, false)
}

// cniCheck names the CNI plugins' check in the state's record of what
// passed.
const cniCheck = "cni"

// run is Run; with reuse, CNI plugins that answered VERSION in an earlier
// apply and whose files have not changed since (the state's fingerprint)
// are reported without being run again: a converged node should not pay
// for executing every plugin on each apply.
func (v *Verify) run(ctx context.Context, env *Env, reuse bool) (cri.Report, error) {
	binDir := v.CNIBinDir
	if binDir != "" {
		real, err := env.Host.Path(binDir)
		if err != nil {
			return cri.Report{}, err
		}
		binDir = real
	}
	fingerprint := ""
	if reuse && env.State != nil {
		fingerprint = cniFingerprint(env, v.CNIBinDir, v.CNIPlugins)
	}
	known := fingerprint != "" && env.State.Verified(cniCheck) == fingerprint
	// The plugins need no runtime: they run while it is dialled and asked.
	plugins := make(chan []cri.Result, 1)
	switch {
	case !env.runsRootPrograms():
		known = false
		fingerprint = ""
		plugins <- inspectCNI(env, v.CNIBinDir, v.CNIPlugins)
	case !known:
		go func() { plugins <- checkCNI(ctx, binDir, v.CNIPlugins) }()
	}

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
	report := cri.Check(ctx, client, cri.Expect{
		Handlers:            v.Handlers,
		CgroupDriver:        v.CgroupDriver,
		RequireNetworkReady: v.NetworkReady,
		ContainerdConfig:    v.ContainerdConfig,
		ReadFile:            env.Host.ReadFile,
	})
	if known {
		for _, p := range v.CNIPlugins {
			report.Checks = append(report.Checks, cri.Result{Name: "cni " + p, OK: true,
				Detail: path.Join(v.CNIBinDir, p) + " answered VERSION before and is unchanged since"})
		}
	} else {
		cni := <-plugins
		report.Checks = append(report.Checks, cni...)
		if fingerprint != "" {
			if (cri.Report{Checks: cni}).OK() {
				env.State.RecordVerified(cniCheck, fingerprint)
			} else {
				env.State.RecordVerified(cniCheck, "")
			}
		}
	}
	if v.Pod {
		report.Checks = append(report.Checks, v.pods(ctx, env, client, report)...)
	}
	if env.Verified != nil {
		env.Verified(report)
	}
	return report, nil
}

// pods runs the pod checks once the runtime answers and is ready: a pod
// then shows what a failed check above means for pods (a cgroup driver
// that disagrees, a handler that is missing).
//
// A running kubelet kills, within seconds, any pod it did not start: the
// pods are not run then, and the skip says how to check the node.
func (v *Verify) pods(ctx context.Context, env *Env, client *cri.Client, before cri.Report) []cri.Result {
	for _, c := range before.Failed() {
		if c.Name == "version" || c.Name == "runtime-ready" {
			return []cri.Result{{Name: "pod", OK: true, Skipped: true, Detail: "not run: the runtime is not ready"}}
		}
	}
	running := env.RunningKubelet
	if running == nil {
		running = facts.RunningKubelet
	}
	if pid := running(); pid != 0 {
		return []cri.Result{{Name: "pod", OK: true, Skipped: true, Detail: fmt.Sprintf(
			"not run: a kubelet runs here (pid %d) and removes within seconds any pod it did not start; verify --pod proves a node before its kubelet runs (systemctl stop kubelet, nodeup verify --pod, systemctl start kubelet)", pid)}}
	}
	handlers := v.Handlers
	if len(handlers) == 0 {
		handlers = []string{""} // the runtime's default handler
	}
	image := v.PodImage
	if image == "" {
		image = DefaultPodImage
	}
	return cri.CheckPods(ctx, client, cri.PodExpect{
		Handlers: handlers, CgroupDriver: v.CgroupDriver, Image: image, RequireAddress: v.PodAddress,
	})
}

// DefaultPodImage is the pod image of a verification without a profile:
// containerd's default sandbox image, which every node needs anyway.
const DefaultPodImage = "registry.k8s.io/pause:3.10"

// checkCNI asks every plugin for its VERSION at once, and returns the
// results in the order of plugins.
func checkCNI(ctx context.Context, binDir string, plugins []string) []cri.Result {
	results := make([][]cri.Result, len(plugins))
	var wg sync.WaitGroup
	for i, p := range plugins {
		wg.Go(func() { results[i] = cri.CheckCNI(ctx, binDir, []string{p}) })
	}
	wg.Wait()
	return slices.Concat(results...)
}

// inspectCNI is checkCNI for a root that is an image: a plugin there is
// not run (an image is untrusted input, and its programs are not this
// host's), only found to be an executable file; the check says so.
func inspectCNI(env *Env, binDir string, plugins []string) []cri.Result {
	var out []cri.Result
	for _, p := range plugins {
		name := "cni " + p
		if !path.IsAbs(binDir) {
			out = append(out, cri.Result{Name: name, Detail: fmt.Sprintf("CNI bin dir %q is not an absolute path", binDir)})
			continue
		}
		file := path.Join(binDir, p)
		fi, err := env.Host.Stat(file)
		switch {
		case err != nil:
			out = append(out, cri.Result{Name: name, Detail: err.Error()})
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			out = append(out, cri.Result{Name: name, Detail: fmt.Sprintf("%s: not an executable file (mode %s)", file, fi.Mode())})
		default:
			out = append(out, cri.Result{Name: name, OK: true, Skipped: true,
				Detail: file + " is an executable file; not run: nothing under --root is executed on this host"})
		}
	}
	return out
}

// cniFingerprint describes the CNI plugin files as they are now: the
// directory, and each plugin's mode and stamp. "" when there are none or
// one cannot be stat'ed: such plugins are run.
func cniFingerprint(env *Env, binDir string, plugins []string) string {
	if len(plugins) == 0 || !path.IsAbs(binDir) {
		return ""
	}
	h := digest.New()
	fmt.Fprintln(h, binDir)
	for _, p := range slices.Sorted(slices.Values(plugins)) {
		fi, err := env.Host.Stat(path.Join(binDir, p))
		if err != nil {
			return ""
		}
		st, ok := state.StampOf(fi)
		if !ok {
			return ""
		}
		fmt.Fprintf(h, "%s %v %d %d %d %d\n", p, fi.Mode(), st.Size, st.MTime, st.CTime, st.Inode)
	}
	return digest.Of(h)
}
