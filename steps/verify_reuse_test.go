package steps_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// An apply on a converged node does not run the CNI plugins again when
// they answered VERSION in an earlier apply and their files are unchanged;
// a changed plugin, one that failed, and nodeup verify (Run) run them.
func TestVerifyRunsOnlyChangedCNIPlugins(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Online()
	sock := stepstest.ServeCRI(t, "runc")
	runs := filepath.Join(t.TempDir(), "runs")
	plugin := "#!/bin/sh\necho \"$0\" >> " + runs + "\n" + strings.TrimPrefix(stepstest.CNIScript, "#!/bin/sh\n")
	n.Write("/opt/cni/bin/bridge", plugin, 0o755)
	n.Write("/opt/cni/bin/loopback", plugin, 0o755)
	v := &steps.Verify{
		Endpoint: "unix://" + sock, Handlers: []string{"runc"}, Timeout: 5 * time.Second,
		CNIBinDir: "/opt/cni/bin", CNIPlugins: []string{"bridge", "loopback"},
	}
	var report cri.Report
	n.Env.Verified = func(r cri.Report) { report = r }
	ran := func() int {
		b, _ := os.ReadFile(runs)
		os.Remove(runs)
		return strings.Count(string(b), "\n")
	}
	apply := func(what string, wantRuns int) {
		t.Helper()
		if ch := n.CheckApply(v, true); ch.Action != steps.NoOp {
			t.Fatalf("%s: %+v", what, ch)
		}
		if got := ran(); got != wantRuns {
			t.Errorf("%s: %d plugin runs, want %d", what, got, wantRuns)
		}
		var names []string
		for _, c := range report.Checks {
			if strings.HasPrefix(c.Name, "cni ") && c.OK {
				names = append(names, c.Name)
			}
		}
		if strings.Join(names, ",") != "cni bridge,cni loopback" {
			t.Errorf("%s: passing CNI checks %v in %+v", what, names, report.Checks)
		}
	}

	apply("first apply", 2)
	apply("second apply", 0)

	// nodeup verify checks everything, every time.
	if _, err := v.Run(t.Context(), n.Env); err != nil {
		t.Fatal(err)
	}
	if got := ran(); got != 2 {
		t.Errorf("Run: %d plugin runs, want 2", got)
	}

	// A plugin replaced: both run again, then neither.
	n.Write("/opt/cni/bin/loopback", plugin+"\n", 0o755)
	apply("after a plugin changed", 2)
	apply("after that", 0)

	// A plugin that fails is run on every apply until it answers.
	os.Chmod(n.Real("/opt/cni/bin/bridge"), 0o644)
	if _, err := stepstest.Do(n.Env, v, true); err == nil {
		t.Fatal("a plugin that is not executable passed")
	}
	ran()
	os.Chmod(n.Real("/opt/cni/bin/bridge"), 0o755)
	apply("after the plugin was repaired", 2)
}

// Under --root the node is an image, untrusted: nodeup verify finds each
// CNI plugin but runs none of them, and says so.
func TestVerifyRunsNothingUnderRoot(t *testing.T) {
	n := stepstest.NewNode(t)
	n.Env.RunsRootPrograms = false
	sock := stepstest.ServeCRI(t, "runc")
	ran := filepath.Join(t.TempDir(), "ran")
	plugin := "#!/bin/sh\ntouch " + ran + "\n" + strings.TrimPrefix(stepstest.CNIScript, "#!/bin/sh\n")
	n.Write("/opt/cni/bin/bridge", plugin, 0o755)
	n.Write("/opt/cni/bin/portmap", plugin, 0o644)
	v := &steps.Verify{
		Endpoint: "unix://" + sock, Handlers: []string{"runc"}, Timeout: 5 * time.Second,
		CNIBinDir: "/opt/cni/bin", CNIPlugins: []string{"bridge", "portmap", "loopback"},
	}
	report, err := v.Run(t.Context(), n.Env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("a plugin under --root was run")
	}
	got := map[string]cri.Result{}
	for _, c := range report.Checks {
		got[c.Name] = c
	}
	if c := got["cni bridge"]; !c.OK || !c.Skipped || c.Detail != "/opt/cni/bin/bridge is an executable file; not run: nothing under --root is executed on this host" {
		t.Errorf("bridge: %+v", c)
	}
	if c := got["cni portmap"]; c.OK || !strings.Contains(c.Detail, "not an executable file") {
		t.Errorf("portmap: %+v", c)
	}
	if c := got["cni loopback"]; c.OK || !strings.Contains(c.Detail, "/opt/cni/bin/loopback") {
		t.Errorf("loopback: %+v", c)
	}
}
