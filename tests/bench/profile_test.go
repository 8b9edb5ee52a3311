//go:build bench

package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/tests/testbed"
)

// TestProfile runs nodeup's cold apply, its no-op re-apply and a plan on one fresh node
// with a CPU profile and an execution trace each, and writes them with a summary of
// each to $NODEUP_BENCH_PROFILES (default: a temporary directory): where a missed
// target's time goes (make bench-profile). NODEUP_BENCH_NETWORK=shaped runs it with the
// mirror across the shaped network instead of on the node's loopback.
func TestProfile(t *testing.T) {
	out := os.Getenv("NODEUP_BENCH_PROFILES")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	b := setup(t)
	nw := b.loopback
	switch v := os.Getenv("NODEUP_BENCH_NETWORK"); v {
	case "", "loopback":
	case "shaped":
		nw = b.shaped
	default:
		t.Fatalf("NODEUP_BENCH_NETWORK=%q: want loopback or shaped", v)
	}
	goBuild(t, filepath.Join(b.bin, "nodeupprof"), "./nodeupprof")
	n := b.boot(t, nw, testbed.Bind{Host: out, Node: "/srv/out"})
	args := b.nodeupArgs(nodeBinDir+"/nodeupprof", nw.url)
	for _, run := range []struct {
		name string
		args []string
	}{
		{"cold", args},
		{"noop", args},
		{"plan", append([]string{args[0], "plan"}, args[2:]...)},
	} {
		env := []string{"NODEUP_CPUPROFILE=/srv/out/" + run.name + ".cpu.pprof", "NODEUP_TRACE=/srv/out/" + run.name + ".trace"}
		r := timed(t, n, env, run.args...)
		r.mustSucceed(t)
		progress("%s\n%s", stepTimes(r.stdout), r.stderr)
		progress("%s on the %s network: %.2fs, peak RSS %.1f MiB", run.name, nw.name, r.took.Seconds(), float64(r.maxRSS)/1024)
		summarize(t, out, run.name)
	}
	progress("profiles and traces in %s", out)
}

// summarize prints the top of the CPU profile and of the trace's syscall and
// synchronisation blocking profiles.
func summarize(t *testing.T, dir, name string) {
	trace := filepath.Join(dir, name+".trace")
	for _, kind := range []string{"syscall", "sync", "net"} {
		p := filepath.Join(dir, name+"."+kind+".pprof")
		cmd := exec.Command("go", "tool", "trace", "-pprof="+kind, trace)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = f
		if err := cmd.Run(); err != nil {
			t.Logf("go tool trace -pprof=%s: %v", kind, err)
		}
		f.Close()
	}
	for _, p := range []string{name + ".cpu.pprof", name + ".syscall.pprof", name + ".sync.pprof", name + ".net.pprof"} {
		cmd := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=25", filepath.Join(dir, p))
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("pprof %s: %v\n%s", p, err, b)
			continue
		}
		progress("== %s\n%s", p, strings.TrimSpace(string(b)))
	}
}

// stepTimes keeps the lines of nodeup's output that say when each step finished
// and how long it took, and the summary.
func stepTimes(stdout string) string {
	timed := regexp.MustCompile(`^\d{4}-\d\d-\d\dT|^Apply:`)
	var keep []string
	for _, line := range strings.Split(stdout, "\n") {
		if timed.MatchString(line) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
