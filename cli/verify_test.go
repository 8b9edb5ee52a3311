package cli

import (
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/cri/critest"
)

// TestVerifyPodFailsWithTheRuntimesError: verify --pod without a profile
// runs a pod through the runtime's default handler; a pod that cannot
// start fails verify (exit 1) with the runtime's own words.
func TestVerifyPodFailsWithTheRuntimesError(t *testing.T) {
	images := &critest.Images{}
	images.Add("registry.k8s.io/pause:3.10", "sha256:1111111111111111111111111111111111111111111111111111111111111111")
	sock := critest.Serve(t, &critest.Runtime{CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD, Images: images,
		Pods: &critest.Pods{Images: images}})
	code, out, errs := run(t, "verify", "--endpoint", "unix://"+sock, "--pod")
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{"ok    pod image", "registry.k8s.io/pause:3.10 present",
		`FAIL  pod default sandbox  RunPodSandbox: failed to get sandbox runtime: no runtime for "" is configured`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// Without --pod no pod runs.
	if code, out, errs := run(t, "verify", "--endpoint", "unix://"+sock); code != 0 || strings.Contains(out, "pod") {
		t.Errorf("verify without --pod: exit %d\n%s%s", code, out, errs)
	}
}
