//go:build demo

package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDemo is `make demo`: a throwaway systemd node, nodeup's plan, apply
// and verification of profiles/demo.hcl, the runtime as crictl sees it, and
// a second apply that changes nothing. It prints to stdout as it goes.
func TestDemo(t *testing.T) {
	say := func(format string, args ...any) { fmt.Fprintf(os.Stdout, format+"\n", args...) }
	bin := buildNodeup(t)
	start := time.Now()
	n := e2eNode(t, bin)
	say("==> booted throwaway node %s (systemd in a container) in %s", n.Name, time.Since(start).Round(time.Millisecond))

	args := []string{demoProfile, "--var-file", varFile("2.3.4")}
	show := func(title string, cmd ...string) string {
		say("\n==> %s\n$ %s", title, strings.Join(cmd, " "))
		t0 := time.Now()
		r := n.Exec(cmd...)
		fmt.Fprint(os.Stdout, r.Stdout)
		fmt.Fprint(os.Stdout, r.Stderr)
		say("(exit %d, %s)", r.Code, time.Since(t0).Round(time.Millisecond))
		if r.Code != 0 && !(len(cmd) > 1 && cmd[1] == "plan") {
			t.Fatalf("%s failed: %s\n%s", strings.Join(cmd, " "), r, n.Journal("containerd"))
		}
		return r.Stdout
	}
	show("what nodeup sees on the node", nodeNodeup, "facts")
	show("the plan: what apply will change", append([]string{nodeNodeup, "plan"}, args...)...)
	show("apply: install, write, enable, start, verify", append([]string{nodeNodeup, "apply"}, args...)...)
	show("the runtime as crictl (not nodeup) sees it", nodeCrictl, "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	show("cgroup driver reported over CRI", nodeCrictl, "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "runtime-config")
	pid := mainPID(t, n)
	show("apply again: nothing to do", append([]string{nodeNodeup, "apply"}, args...)...)
	if again := mainPID(t, n); again != pid {
		t.Fatalf("containerd restarted by the second apply: MainPID %s -> %s", pid, again)
	}
	say("\n==> containerd MainPID %s before and after the second apply: not restarted", pid)
	r := n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
	say("==> nodeup plan --detailed-exitcode: exit %d (0 = no changes)", r.Code)
	if r.Code != 0 {
		t.Fatalf("plan after apply: %s", r)
	}
	say("==> verified node in %s; tearing it down", time.Since(start).Round(time.Millisecond))
}
