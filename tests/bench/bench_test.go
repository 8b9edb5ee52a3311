//go:build bench

package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nodeup/nodeup/tests/testbed"
)

// Where a benchmark node sees what the host hands it.
const (
	nodeBenchDir    = "/srv/bench"    // this directory: the script and the playbook
	nodeBinDir      = "/srv/bin"      // nodeup, floor, their inputs
	nodeRenderedDir = "/srv/rendered" // the files nodeup renders, for the other tools
	nodeProfilesDir = "/srv/profiles"

	// The loopback HTTP mirror inside every node, in front of testbed.NodeMirrorDir.
	loopbackURL = "http://127.0.0.1:8080"

	containerdVersion = "2.3.4"
	profileName       = "demo.hcl"
	failoverProfile   = "failover.hcl" // profileName with a dead mirror first, in nodeBinDir
)

// The shaped network: a regional mirror across a cloud WAN link (README.md).
const (
	linkDelay = 20 * time.Millisecond // each way: a 40 ms round trip
	linkRate  = 200_000_000           // bits per second, each way
)

// Contenders, in the order the first round runs them; later rounds rotate it.
const (
	nodeup  = "nodeup"
	script  = "script"
	ansible = "ansible"
	floor   = "floor"
)

var contenders = []string{nodeup, script, ansible, floor}

// On the shaped network the contenders run again, and nodeup once more with a mirror
// that is gone listed before the live one; then fleetSize nodes at once per contender.
const (
	failover  = "failover"
	fleetSize = 10
)

var (
	netContenders   = []string{nodeup, script, ansible, floor, failover}
	fleetContenders = []string{nodeup, script, ansible}
)

// bed is what every run shares: the node image, the binaries and their inputs, and
// the two networks the mirror is reached over.
type bed struct {
	image, bin, rendered, bench, profiles string
	scriptEnv                             []string
	nodeupSize                            int64
	loopback, shaped                      network
}

// network is how a node reaches the mirror: over loopback from a server inside the
// node, or across the shaped link of a testbed.WAN.
type network struct {
	name string // "loopback" or "shaped": the floor's spec file is floor-NAME.json
	url  string
	wan  *testbed.WAN // nil on the loopback
}

// served is what the mirror has sent so far (nothing is counted on the loopback).
func (nw network) served() testbed.Served {
	if nw.wan == nil {
		return testbed.Served{}
	}
	return nw.wan.Served()
}

func TestBench(t *testing.T) {
	runs := envCount(t, "NODEUP_BENCH_RUNS", 5)
	fleetRuns := min(envCount(t, "NODEUP_BENCH_FLEET_RUNS", runs), runs)
	load0 := loadAvg()
	b := setup(t)
	rep := Report{Samples: map[string][]Sample{}, Net: map[string][]Sample{}, Fleet: map[string][]FleetSample{},
		Runs: runs, FleetRuns: fleetRuns, FleetSize: fleetSize, BinarySize: b.nodeupSize, Load0: load0,
		Profile: "profiles/" + profileName + " with containerd " + containerdVersion,
		WAN:     b.shaped.wan.String(), LinkRate: b.shaped.wan.Options.Rate}
	for round := 0; round < runs; round++ {
		for i := range contenders {
			c := contenders[(i+round)%len(contenders)]
			s := subtest(t, fmt.Sprintf("%s-%d", c, round+1), func(t *testing.T) Sample { return b.run(t, c, b.loopback) })
			rep.Samples[c] = append(rep.Samples[c], s)
			progress("run %d/%d %-8s loopback cold %6.2fs  no-op %6.2fs %s", round+1, runs, c, s.Cold.Seconds(), s.Noop.Seconds(), s.Note)
		}
		for i := range netContenders {
			c := netContenders[(i+round)%len(netContenders)]
			s := subtest(t, fmt.Sprintf("shaped-%s-%d", c, round+1), func(t *testing.T) Sample { return b.run(t, c, b.shaped) })
			rep.Net[c] = append(rep.Net[c], s)
			progress("run %d/%d %-8s shaped   cold %6.2fs  no-op %6.2fs  served %s / %s %s", round+1, runs, c,
				s.Cold.Seconds(), s.Noop.Seconds(), mb(s.ColdBytes), mb(s.NoopBytes), s.Note)
		}
		if round >= fleetRuns {
			continue
		}
		for i := range fleetContenders {
			c := fleetContenders[(i+round)%len(fleetContenders)]
			f := subtest(t, fmt.Sprintf("fleet-%s-%d", c, round+1), func(t *testing.T) FleetSample { return b.fleet(t, c) })
			rep.Fleet[c] = append(rep.Fleet[c], f)
			progress("run %d/%d %-8s fleet of %d: first done after %6.2fs, all verified after %6.2fs, served %s in %d requests, %d packets dropped", round+1, fleetRuns, c,
				fleetSize, f.First.Seconds(), f.Wall.Seconds(), mb(f.Bytes), f.Requests, f.Dropped)
		}
	}
	rep.Link, rep.RTT = b.shaped.wan.Link(), b.shaped.wan.RTT
	rep.Compile = compileTime(t)
	rep.Load1 = loadAvg()
	out := rep.Table()
	fmt.Print(out)
	if p := os.Getenv("NODEUP_BENCH_OUT"); p != "" {
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// subtest runs f as a subtest and stops the benchmark if it fails.
func subtest[T any](t *testing.T, name string, f func(t *testing.T) T) T {
	var v T
	if !t.Run(name, func(t *testing.T) { v = f(t) }) {
		t.FailNow()
	}
	return v
}

// envCount reads a positive count from the environment, def when unset.
func envCount(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// progress says how a run went, with the load average: the machine is shared.
func progress(format string, args ...any) {
	fmt.Printf("bench: "+format+" [load %s]\n", append(args, strings.Fields(loadAvg())[0])...)
}

// mb is a byte count in MB.
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// setup builds the node image and the binaries and writes every contender's inputs.
func setup(t *testing.T) *bed {
	start := time.Now()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	b := &bed{
		bin: t.TempDir(), rendered: t.TempDir(), bench: here,
		profiles: filepath.Join(here, "..", "..", "profiles"),
	}
	b.image = buildImage(t, here)
	wan := testbed.NewWAN(t, testbed.WANOptions{Delay: linkDelay, Rate: linkRate})
	b.loopback = network{name: "loopback", url: loopbackURL}
	b.shaped = network{name: "shaped", url: wan.URL, wan: wan}
	manifest := testbed.ReadManifest(t)
	varFile := testbed.VarFile(t, containerdVersion)

	// nodeup as make build builds it (stripped), and the floor.
	nodeupBin := filepath.Join(b.bin, "nodeup")
	goBuild(t, nodeupBin, "-ldflags", "-s -w", "../../cmd/nodeup")
	goBuild(t, filepath.Join(b.bin, "floor"), "./floor")
	fi, err := os.Stat(nodeupBin)
	if err != nil {
		t.Fatal(err)
	}
	b.nodeupSize = fi.Size()

	// The other tools write the files nodeup renders for the same profile.
	if out, err := exec.Command(nodeupBin, "render", filepath.Join(b.profiles, profileName), "--var-file", varFile, "--out", b.rendered).CombinedOutput(); err != nil {
		t.Fatalf("nodeup render: %v\n%s", err, out)
	}
	var files []string
	err = filepath.Walk(b.rendered, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(b.rendered, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Versions and checksums, as the script's environment, the playbook's
	// variables and the floor's downloads.
	vars := map[string]any{"rendered": nodeRenderedDir, "files": files}
	b.scriptEnv = []string{"RENDERED=" + nodeRenderedDir}
	art := map[string]testbed.Artifact{}
	for _, c := range []string{"containerd", "runc", "cni", "crictl", "kata"} {
		version := ""
		if c == "containerd" {
			version = containerdVersion
		}
		a := manifest.Get(t, c, version)
		art[c] = a
		vars[c+"_version"], vars[c+"_sha256"] = a.Version, a.SHA256
		up := strings.ToUpper(c)
		b.scriptEnv = append(b.scriptEnv, up+"_VERSION="+a.Version, up+"_SHA256="+a.SHA256)
	}
	writeJSON(t, filepath.Join(b.bin, "ansible-vars.json"), vars)
	for _, nw := range []network{b.loopback, b.shaped} {
		url := func(c string) string { return nw.url + "/" + art[c].Path }
		writeJSON(t, filepath.Join(b.bin, "floor-"+nw.name+".json"), []map[string]any{
			{"url": url("containerd"), "sha256": art["containerd"].SHA256, "format": "tar.gz", "dest": "/usr/local"},
			{"url": url("runc"), "sha256": art["runc"].SHA256, "format": "binary", "dest": "/usr/local/sbin/runc"},
			{"url": url("cni"), "sha256": art["cni"].SHA256, "format": "tar.gz", "dest": "/opt/cni/bin",
				"members": []string{"./loopback", "./bridge", "./host-local", "./portmap"}},
			{"url": url("crictl"), "sha256": art["crictl"].SHA256, "format": "tar.gz", "dest": "/usr/local/bin"},
			{"url": url("kata"), "sha256": art["kata"].SHA256, "format": "tar.zst", "dest": "/"},
		})
	}
	writeFailoverProfile(t, filepath.Join(b.profiles, profileName), filepath.Join(b.bin, failoverProfile))
	progress("setup in %s: image %s, nodeup %.1f MiB; the shaped network: %s",
		time.Since(start).Round(time.Second), b.image, float64(b.nodeupSize)/(1<<20), wan)
	return b
}

// writeFailoverProfile writes the benchmark's profile with a second mirror listed
// first, var.dead_mirror_url: one that is gone.
func writeFailoverProfile(t *testing.T, from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	const urls = "urls     = [var.mirror_url]"
	if !strings.Contains(string(data), urls) {
		t.Fatalf("%s has no %q to put a dead mirror before", from, urls)
	}
	p := strings.Replace(string(data), urls, "urls     = [var.dead_mirror_url, var.mirror_url]", 1) +
		"\nvariable \"dead_mirror_url\" {}\n"
	if err := os.WriteFile(to, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildImage runs build-image.sh and returns the image every node boots.
func buildImage(t *testing.T, here string) string {
	cmd := exec.Command("bash", filepath.Join(here, "build-image.sh"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build-image.sh: %v", err)
	}
	return filepath.Join(testbed.Cache(), "rootfs-bookworm-bench")
}

func goBuild(t *testing.T, out string, args ...string) {
	cmd := exec.Command("go", append([]string{"build", "-trimpath", "-o", out}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run boots a fresh node on network nw and lets contender c do the job twice: cold,
// then on the node it converged. On the shaped network it counts what the mirror
// served each time.
func (b *bed) run(t *testing.T, c string, nw network) Sample {
	n := b.boot(t, nw)
	switch c {
	case floor:
		return b.runFloor(t, n, nw)
	case failover:
		return b.runFailover(t, n, nw)
	}
	var s Sample
	j := b.job(c, nw)
	before := nw.served()
	r := timed(t, n, j.env, j.args...)
	s.Cold, s.RSSKiB = r.took, r.maxRSS
	checkJob(t, c, r, false)
	mid := nw.served()
	r = timed(t, n, j.env, j.args...)
	s.Noop = r.took
	checkJob(t, c, r, true)
	s.ColdBytes, s.NoopBytes = mid.Bytes-before.Bytes, nw.served().Bytes-mid.Bytes
	switch c {
	case nodeup:
		args := append([]string{j.args[0], "plan"}, j.args[2:]...)
		r = timed(t, n, nil, append(args, "--detailed-exitcode")...)
		s.Plan = r.took
		if r.code != 0 {
			t.Fatalf("nodeup plan on the converged node: want exit 0 (no changes):\n%s", r)
		}
	case ansible:
		if m := regexp.MustCompile(`changed=(\d+)`).FindStringSubmatch(r.stdout); m != nil {
			s.Note = "(second run: changed=" + m[1] + ")"
		}
	}
	return s
}

// job is a contender's command line and environment for a network.
type job struct{ args, env []string }

func (b *bed) job(c string, nw network) job {
	switch c {
	case nodeup:
		return job{args: b.nodeupArgs(nodeBinDir+"/nodeup", nw.url)}
	case script:
		return job{args: []string{"bash", nodeBenchDir + "/getting-started.sh"}, env: append([]string{"MIRROR=" + nw.url}, b.scriptEnv...)}
	case ansible:
		return job{
			args: []string{"ansible-playbook", "-c", "local", "-i", "localhost,", nodeBenchDir + "/playbook.yml",
				"-e", "@" + nodeBinDir + "/ansible-vars.json", "-e", `{"mirror": "` + nw.url + `"}`},
			env: []string{"ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCALHOST_WARNING=false", "ANSIBLE_RETRY_FILES_ENABLED=false"},
		}
	}
	panic("no job for " + c)
}

// checkJob fails t unless a contender's run succeeded (for nodeup: verified, and a
// re-apply changed nothing). Every contender ends with the CRI socket answering.
func checkJob(t *testing.T, c string, r result, noop bool) {
	t.Helper()
	if c == nodeup {
		checkApply(t, r, noop)
		return
	}
	r.mustSucceed(t)
}

// runFloor: all downloads at once, then containerd's start.
func (b *bed) runFloor(t *testing.T, n *testbed.Node, nw network) Sample {
	var s Sample
	before := nw.served()
	r := timed(t, n, nil, nodeBinDir+"/floor", "unpack", nodeBinDir+"/floor-"+nw.name+".json")
	r.mustSucceed(t)
	s.Unpack = r.took
	s.ColdBytes = nw.served().Bytes - before.Bytes
	// Untimed: the same files in place, and systemd told about the unit.
	n.Run(t, "sh", "-c", `cd `+nodeRenderedDir+` && find . -type f | while read -r f; do install -D -m 644 "$f" "/${f#./}"; done && systemctl daemon-reload`)
	r = timed(t, n, nil, nodeBinDir+"/floor", "start")
	r.mustSucceed(t)
	s.Start = r.took
	s.Cold = s.Unpack + s.Start
	s.Note = fmt.Sprintf("(unpack %.2fs + containerd start %.2fs)", s.Unpack.Seconds(), s.Start.Seconds())
	return s
}

// runFailover is nodeup's cold apply with a mirror that is gone listed before the
// live one.
func (b *bed) runFailover(t *testing.T, n *testbed.Node, nw network) Sample {
	var s Sample
	args := b.nodeupArgs(nodeBinDir+"/nodeup", nw.url)
	args[2] = nodeBinDir + "/" + failoverProfile
	args = append(args, "--var", "dead_mirror_url="+nw.wan.DeadURL)
	before := nw.served()
	r := timed(t, n, nil, args...)
	checkApply(t, r, false)
	s.Cold, s.RSSKiB = r.took, r.maxRSS
	s.ColdBytes = nw.served().Bytes - before.Bytes
	s.Note = fmt.Sprintf("(%d log lines name the dead mirror)", strings.Count(r.stdout+r.stderr, nw.wan.DeadURL))
	return s
}

// fleet boots fleetSize fresh nodes on the shaped network and lets contender c
// converge them all at once: the wall time until the last one is done, and what the
// mirror served. Then each node's CRI socket must answer.
func (b *bed) fleet(t *testing.T, c string) FleetSample {
	nodes := make([]*testbed.Node, fleetSize)
	for i := range nodes {
		nodes[i] = b.boot(t, b.shaped)
	}
	j := b.job(c, b.shaped)
	syscall.Sync()
	before := b.shaped.served()
	link := b.shaped.wan.Link()
	start := time.Now()
	procs := make([]*proc, len(nodes))
	for i, n := range nodes {
		procs[i] = startIn(t, n, j.env, j.args...)
	}
	results := make([]result, len(nodes))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { results[i] = p.wait() })
	}
	wg.Wait()
	f := FleetSample{Wall: time.Since(start)}
	served := b.shaped.served()
	f.Bytes, f.Requests = served.Bytes-before.Bytes, served.Requests-before.Requests
	f.Dropped = b.shaped.wan.Link().DroppedDown - link.DroppedDown
	f.First = results[0].took
	for i, r := range results {
		if r.err != nil && r.code < 0 {
			t.Fatalf("node %s: %s: %v", nodes[i].Name, strings.Join(r.args, " "), r.err)
		}
		checkJob(t, c, r, false)
		f.First = min(f.First, r.took)
	}
	for _, n := range nodes {
		n.Run(t, "crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	}
	return f
}

// boot boots a fresh node from the image with everything bound in, and joins it to
// network nw: the loopback one starts the HTTP mirror in the node.
func (b *bed) boot(t *testing.T, nw network, more ...testbed.Bind) *testbed.Node {
	n := testbed.Boot(t, testbed.Options{Rootfs: b.image, Binds: append([]testbed.Bind{
		testbed.MirrorBind(t),
		{Host: b.bench, Node: nodeBenchDir, ReadOnly: true},
		{Host: b.bin, Node: nodeBinDir, ReadOnly: true},
		{Host: b.rendered, Node: nodeRenderedDir, ReadOnly: true},
		{Host: b.profiles, Node: nodeProfilesDir, ReadOnly: true},
	}, more...)})
	if nw.wan != nil {
		nw.wan.Attach(t, n)
		return n
	}
	n.Run(t, "systemd-run", "--quiet", "--unit=bench-mirror", "python3", "-m", "http.server",
		"--bind", "127.0.0.1", "--directory", testbed.NodeMirrorDir, strings.TrimPrefix(loopbackURL, "http://127.0.0.1:"))
	waitMirror(t, n)
	return n
}

// nodeupArgs is the apply of the benchmark's profile from the mirror at url.
func (b *bed) nodeupArgs(bin, url string) []string {
	return []string{bin, "apply", nodeProfilesDir + "/" + profileName,
		"--var-file", testbed.NodeMirrorDir + "/vars-containerd-" + containerdVersion + ".hcl",
		"--var", "mirror_url=" + url}
}

// waitMirror waits for the node's HTTP mirror to answer.
func waitMirror(t *testing.T, n *testbed.Node) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := n.Exec("curl", "-fso", "/dev/null", loopbackURL+"/manifest.tsv")
		if r.Code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror in node %s does not answer: %s\n%s", n.Name, r, n.Journal("bench-mirror"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// result is one timed command.
type result struct {
	args           []string
	took           time.Duration
	code           int
	err            error
	stdout, stderr string
	maxRSS         int64 // KiB, the largest process of the command's tree
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.took, r.stdout, r.stderr)
}

func (r result) mustSucceed(t *testing.T) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
}

// timed runs args in the node and measures the wall time from the host. Dirty
// pages of earlier runs are written back first, so no run pays for another's.
func timed(t *testing.T, n *testbed.Node, env []string, args ...string) result {
	t.Helper()
	syscall.Sync()
	r := startIn(t, n, env, args...).wait()
	if r.err != nil && r.code < 0 {
		t.Fatalf("%s: %v", strings.Join(args, " "), r.err)
	}
	return r
}

// proc is a command started in a node.
type proc struct {
	cmd            *exec.Cmd
	args           []string
	stdout, stderr bytes.Buffer
	start          time.Time
}

func startIn(t *testing.T, n *testbed.Node, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: n.Command(args...), args: args}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return p
}

// wait waits for the command and says how it went and how long it took.
func (p *proc) wait() result {
	err := p.cmd.Wait()
	r := result{args: p.args, took: time.Since(p.start), stdout: p.stdout.String(), stderr: p.stderr.String(), code: -1, err: err}
	if p.cmd.ProcessState != nil {
		r.code = p.cmd.ProcessState.ExitCode()
		// wait4's rusage of nsenter covers its children that it waited for:
		// ru_maxrss is the peak of the largest one, the command itself.
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss
		}
	}
	return r
}

var applySummary = regexp.MustCompile(`Apply: (\d+) created, (\d+) updated, (?:\d+ deleted, )?(\d+) unchanged, (\d+) skipped, (\d+) failed`)

// checkApply fails t unless nodeup's apply succeeded and, for a re-apply, changed nothing.
func checkApply(t *testing.T, r result, noop bool) {
	t.Helper()
	m := applySummary.FindStringSubmatch(r.stdout)
	switch {
	case r.code != 0 || m == nil || m[5] != "0":
		t.Fatalf("nodeup apply failed:\n%s", r)
	case noop && (m[1] != "0" || m[2] != "0"):
		t.Fatalf("nodeup re-apply changed the node:\n%s", r)
	case !noop && m[1] == "0":
		t.Fatalf("nodeup's cold apply created nothing:\n%s", r)
	}
}

// compileTime runs plan's BenchmarkCompile and returns its time per compile.
func compileTime(t *testing.T) time.Duration {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkCompile$", "-benchtime", "2s", "-count", "1", "../../plan")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -bench BenchmarkCompile: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`BenchmarkCompile\S*\s+\d+\s+([\d.]+) ns/op`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no ns/op in:\n%s", out)
	}
	ns, _ := strconv.ParseFloat(string(m[1]), 64)
	return time.Duration(ns)
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
