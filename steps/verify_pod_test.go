package steps_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/cri/critest"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// TestVerifyPod: with Pod set, verification runs a pod through each
// handler after the other checks; this test's own process stands in for
// the container, so its cgroup is not where the driver puts pods.
func TestVerifyPod(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Online()
	images := &critest.Images{}
	images.Add("registry.k8s.io/pause:3.10", "sha256:1111111111111111111111111111111111111111111111111111111111111111")
	rt := &critest.Runtime{Handlers: []string{"runc"}, CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD, Images: images,
		Pods: &critest.Pods{Handlers: []string{"runc"}, PID: os.Getpid(), Images: images}}
	sock := critest.Serve(t, rt)
	v := &steps.Verify{Endpoint: "unix://" + sock, Handlers: []string{"runc"}, CgroupDriver: "systemd", Timeout: 5 * time.Second,
		Pod: true, PodImage: "registry.k8s.io/pause:3.10"}
	var report *cri.Report
	n.Env.Verified = func(r cri.Report) { report = &r }
	n.Env.RunningKubelet = func() int { return 0 }
	_, err := stepstest.Do(n.Env, v, true)
	var ve *steps.VerifyError
	if !errors.As(err, &ve) || report == nil {
		t.Fatalf("verify: %v", err)
	}
	names := map[string]cri.Result{}
	for _, c := range report.Checks {
		names[c.Name] = c
	}
	for _, want := range []string{"pod image", "pod runc sandbox", "pod runc container", "pod runc cgroup", "pod runc cleanup"} {
		if _, ok := names[want]; !ok {
			t.Errorf("no %q check in %+v", want, report.Checks)
		}
	}
	if c := names["pod runc cgroup"]; c.OK || !strings.Contains(c.Detail, "not under /nodeup.slice/nodeup-verify.slice/") {
		t.Errorf("cgroup: %+v", c)
	}
	if sb, ctr := rt.Pods.Live(); sb != 0 || ctr != 0 {
		t.Errorf("%d sandboxes, %d containers left", sb, ctr)
	}

	// A running kubelet would kill the pod: none runs, and the skip says
	// how to check the node.
	n.Env.RunningKubelet = func() int { return 4321 }
	report = nil
	if _, err := stepstest.Do(n.Env, v, true); err != nil {
		t.Fatalf("verify with the pods skipped: %v", err)
	}
	for _, c := range report.Checks {
		if strings.HasPrefix(c.Name, "pod") && !(c.Name == "pod" && c.Skipped && strings.Contains(c.Detail, "a kubelet runs here (pid 4321)")) {
			t.Errorf("pod check with a kubelet running: %+v", c)
		}
	}
	n.Env.RunningKubelet = func() int { return 0 }

	// A runtime that is not ready runs no pod.
	rt.NotReady = true
	report = nil
	stepstest.Do(n.Env, v, true)
	for _, c := range report.Checks {
		if strings.HasPrefix(c.Name, "pod") && !(c.Name == "pod" && c.Skipped) {
			t.Errorf("pod check with the runtime not ready: %+v", c)
		}
	}
}
