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
	mirrorURL = "http://127.0.0.1:8080"

	containerdVersion = "2.3.4"
	profileName       = "demo.hcl"
)

// Contenders, in the order the first round runs them; later rounds rotate it.
const (
	nodeup  = "nodeup"
	script  = "script"
	ansible = "ansible"
	floor   = "floor"
)

var contenders = []string{nodeup, script, ansible, floor}

// bed is what every run shares: the node image, the binaries and their inputs.
type bed struct {
	image, bin, rendered, bench, profiles string
	scriptEnv                             []string
	nodeupSize                            int64
}

func TestBench(t *testing.T) {
	runs := 5
	if v := os.Getenv("NODEUP_BENCH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("NODEUP_BENCH_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	load0 := loadAvg()
	b := setup(t)
	rep := Report{Samples: map[string][]Sample{}, Runs: runs, BinarySize: b.nodeupSize, Load0: load0,
		Profile: "profiles/" + profileName + " with containerd " + containerdVersion}
	for round := 0; round < runs; round++ {
		for i := range contenders {
			c := contenders[(i+round)%len(contenders)]
			var s Sample
			if !t.Run(fmt.Sprintf("%s-%d", c, round+1), func(t *testing.T) { s = b.run(t, c) }) {
				t.FailNow()
			}
			rep.Samples[c] = append(rep.Samples[c], s)
			progress("run %d/%d %-7s cold %6.2fs  no-op %6.2fs %s", round+1, runs, c, s.Cold.Seconds(), s.Noop.Seconds(), s.Note)
		}
	}
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

func progress(format string, args ...any) {
	fmt.Printf("bench: "+format+"\n", args...)
}

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
	vars := map[string]any{"mirror": mirrorURL, "rendered": nodeRenderedDir, "files": files}
	b.scriptEnv = []string{"MIRROR=" + mirrorURL, "RENDERED=" + nodeRenderedDir}
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
	url := func(c string) string { return mirrorURL + "/" + art[c].Path }
	writeJSON(t, filepath.Join(b.bin, "floor.json"), []map[string]any{
		{"url": url("containerd"), "sha256": art["containerd"].SHA256, "format": "tar.gz", "dest": "/usr/local"},
		{"url": url("runc"), "sha256": art["runc"].SHA256, "format": "binary", "dest": "/usr/local/sbin/runc"},
		{"url": url("cni"), "sha256": art["cni"].SHA256, "format": "tar.gz", "dest": "/opt/cni/bin",
			"members": []string{"./loopback", "./bridge", "./host-local", "./portmap"}},
		{"url": url("crictl"), "sha256": art["crictl"].SHA256, "format": "tar.gz", "dest": "/usr/local/bin"},
		{"url": url("kata"), "sha256": art["kata"].SHA256, "format": "tar.zst", "dest": "/"},
	})
	progress("setup in %s: image %s, nodeup %.1f MiB", time.Since(start).Round(time.Second), b.image, float64(b.nodeupSize)/(1<<20))
	return b
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

// run boots a fresh node, starts the mirror in it and lets contender c do the job
// twice: cold, then on the node it converged.
func (b *bed) run(t *testing.T, c string) Sample {
	n := b.boot(t)
	var s Sample
	switch c {
	case nodeup:
		args := b.nodeupArgs(nodeBinDir + "/nodeup")
		r := timed(t, n, nil, args...)
		s.Cold, s.RSSKiB = r.took, r.maxRSS
		checkApply(t, r, false)
		r = timed(t, n, nil, args...)
		s.Noop = r.took
		checkApply(t, r, true)
		args[1] = "plan"
		r = timed(t, n, nil, append(args, "--detailed-exitcode")...)
		s.Plan = r.took
		if r.code != 0 {
			t.Fatalf("nodeup plan on the converged node: want exit 0 (no changes):\n%s", r)
		}
	case script:
		r := timed(t, n, b.scriptEnv, "bash", nodeBenchDir+"/getting-started.sh")
		s.Cold = r.took
		r.mustSucceed(t)
		r = timed(t, n, b.scriptEnv, "bash", nodeBenchDir+"/getting-started.sh")
		s.Noop = r.took
		r.mustSucceed(t)
	case ansible:
		args := []string{"ansible-playbook", "-c", "local", "-i", "localhost,", nodeBenchDir + "/playbook.yml", "-e", "@" + nodeBinDir + "/ansible-vars.json"}
		env := []string{"ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCALHOST_WARNING=false", "ANSIBLE_RETRY_FILES_ENABLED=false"}
		r := timed(t, n, env, args...)
		s.Cold = r.took
		r.mustSucceed(t)
		r = timed(t, n, env, args...)
		s.Noop = r.took
		r.mustSucceed(t)
		if m := regexp.MustCompile(`changed=(\d+)`).FindStringSubmatch(r.stdout); m != nil {
			s.Note = "(second run: changed=" + m[1] + ")"
		}
	case floor:
		r := timed(t, n, nil, nodeBinDir+"/floor", "unpack", nodeBinDir+"/floor.json")
		r.mustSucceed(t)
		s.Unpack = r.took
		// Untimed: the same files in place, and systemd told about the unit.
		n.Run(t, "sh", "-c", `cd `+nodeRenderedDir+` && find . -type f | while read -r f; do install -D -m 644 "$f" "/${f#./}"; done && systemctl daemon-reload`)
		r = timed(t, n, nil, nodeBinDir+"/floor", "start")
		r.mustSucceed(t)
		s.Start = r.took
		s.Cold = s.Unpack + s.Start
		s.Note = fmt.Sprintf("(unpack %.2fs + containerd start %.2fs)", s.Unpack.Seconds(), s.Start.Seconds())
	}
	return s
}

// boot boots a fresh node from the image with everything bound in, and starts the
// HTTP mirror in it.
func (b *bed) boot(t *testing.T, more ...testbed.Bind) *testbed.Node {
	n := testbed.Boot(t, testbed.Options{Rootfs: b.image, Binds: append([]testbed.Bind{
		testbed.MirrorBind(t),
		{Host: b.bench, Node: nodeBenchDir, ReadOnly: true},
		{Host: b.bin, Node: nodeBinDir, ReadOnly: true},
		{Host: b.rendered, Node: nodeRenderedDir, ReadOnly: true},
		{Host: b.profiles, Node: nodeProfilesDir, ReadOnly: true},
	}, more...)})
	n.Run(t, "systemd-run", "--quiet", "--unit=bench-mirror", "python3", "-m", "http.server",
		"--bind", "127.0.0.1", "--directory", testbed.NodeMirrorDir, strings.TrimPrefix(mirrorURL, "http://127.0.0.1:"))
	waitMirror(t, n)
	return n
}

// nodeupArgs is the apply of the benchmark's profile from the node's mirror.
func (b *bed) nodeupArgs(bin string) []string {
	return []string{bin, "apply", nodeProfilesDir + "/" + profileName,
		"--var-file", testbed.NodeMirrorDir + "/vars-containerd-" + containerdVersion + ".hcl",
		"--var", "mirror_url=" + mirrorURL}
}

// waitMirror waits for the node's HTTP mirror to answer.
func waitMirror(t *testing.T, n *testbed.Node) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := n.Exec("curl", "-fso", "/dev/null", mirrorURL+"/manifest.tsv")
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
	cmd := n.Command(args...)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, took: time.Since(start), stdout: stdout.String(), stderr: stderr.String(), code: -1}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
		// wait4's rusage of nsenter covers its children that it waited for:
		// ru_maxrss is the peak of the largest one, the command itself.
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss
		}
	}
	if err != nil && r.code < 0 {
		t.Fatalf("%s: %v", strings.Join(args, " "), err)
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
