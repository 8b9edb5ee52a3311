package tests

// Day-2 operations on real nodes: reset, an upgrade of containerd in
// place (1.7 to 2.3, one restart, config schema 4 after it), the rollback
// of an upgrade whose containerd cannot start, and the drift metrics the
// packaged timer writes.
//
//	NODEUP_E2E=1 go test -count=1 -run 'TestReset|TestUpgrade|TestRollback|TestDriftMetrics' -v ./tests/

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/steps/stepstest"
	"github.com/nodeup/nodeup/tests/testbed"
)

// nodeFiles describes every file and symlink below the node directories
// dirs (stepstest.Files), by node path: what a reset must leave as it
// found it.
func nodeFiles(t *testing.T, n *testbed.Node, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range dirs {
		for rel, desc := range stepstest.Files(t, n.Path(dir)) {
			out[filepath.Join(dir, rel)] = desc
		}
	}
	return out
}

// resetDirs are where nodeup writes on a node with profiles/demo.hcl.
var resetDirs = []string{"/etc", "/usr/local", "/opt", "/var/lib/kubelet", "/var/lib/nodeup"}

// TestReset applies the demo profile to a node that has a distribution's
// containerd config (mode 0640, owned by 1234:1234), resets it, and finds
// every file under nodeup's directories as it was before the apply, the
// config byte for byte with its mode and owner, containerd stopped and
// disabled. A second reset changes nothing; a plan has everything to do
// again, and an apply does it.
func TestReset(t *testing.T) {
	bin := buildNodeup(t)
	n := testbed.Create(t, faultOptions(t, bin))
	cfg := "/etc/containerd/config.toml"
	if err := n.WriteFile(cfg, []byte(distroConfig), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(n.Path(cfg), 1234, 1234); err != nil {
		t.Fatal(err)
	}
	n.Start()
	before := nodeFiles(t, n, resetDirs...)
	args := []string{demoProfile, "--var-file", varFile("2.3.4")}
	if r := runApply(n, args...); r.Code != 0 {
		t.Fatalf("apply: %s", r)
	}
	list := n.Run(t, nodeNodeup, "state", "list")
	t.Logf("nodeup state list after the apply:\n%s", list)
	if !regexp.MustCompile(`containerd\s+2\.3\.4\s+sha256:[0-9a-f]{64}`).MatchString(list) || !strings.Contains(list, "/var/lib/nodeup/backup/etc/containerd/config.toml") {
		t.Errorf("state list lacks containerd 2.3.4 or the config's backup")
	}

	r := n.Exec(nodeNodeup, "reset")
	if r.Code != 1 || !strings.Contains(r.Stderr, "pass --yes to reset") {
		t.Errorf("reset without --yes and without a terminal: %s", r)
	}
	if s := strings.TrimSpace(n.Exec("systemctl", "is-active", "containerd").Stdout); s != "active" {
		t.Fatalf("reset without --yes stopped containerd (%s)", s)
	}

	r = n.Exec(nodeNodeup, "reset", "--yes")
	t.Logf("nodeup reset --yes:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("reset: %s", r)
	}
	for _, want := range []string{`stop\s+containerd\.service`, `disable\s+containerd\.service`, `restore\s+/etc/containerd/config\.toml`, `remove\s+/opt/kata`, `keep\s+/var/cache/nodeup`} {
		if !regexp.MustCompile(`(?m)^\s+` + want).MatchString(r.Stdout) {
			t.Errorf("the reset's plan lacks %q", want)
		}
	}
	if s := strings.TrimSpace(n.Exec("systemctl", "is-active", "containerd").Stdout); s == "active" {
		t.Errorf("containerd is still active after reset")
	}
	if s := strings.TrimSpace(n.Exec("systemctl", "is-enabled", "containerd").Stdout); s == "enabled" {
		t.Errorf("containerd is still enabled after reset")
	}
	if b, err := os.ReadFile(n.Path(cfg)); err != nil || string(b) != distroConfig {
		t.Errorf("config.toml after reset: %v\n%s", err, b)
	}
	for _, d := range stepstest.DiffFiles(before, nodeFiles(t, n, resetDirs...)) {
		t.Errorf("after reset: %s", d)
	}
	if _, err := os.Stat(n.Path("/var/cache/nodeup/sha256")); err != nil {
		t.Errorf("the download cache is gone without --purge: %v", err)
	}

	r = n.Exec(nodeNodeup, "reset", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Nothing to reset") {
		t.Errorf("second reset: %s", r)
	}
	if d := stepstest.DiffFiles(before, nodeFiles(t, n, resetDirs...)); len(d) > 0 {
		t.Errorf("the second reset changed %v", d)
	}

	r = n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
	t.Logf("plan after reset:\n%s", r.Stdout)
	if r.Code != 2 {
		t.Fatalf("plan after reset: want exit 2, got %s", r)
	}
	if m := regexp.MustCompile(`Plan: (\d+) to create, (\d+) to update`).FindStringSubmatch(r.Stdout); m == nil || m[2] != "1" ||
		!strings.Contains(r.Stdout, "~ file:/etc/containerd/config.toml: update content differs; nodeup did not write it") ||
		!strings.Contains(r.Stdout, "+ artifact:containerd: create") || !strings.Contains(r.Stdout, "+ unit:containerd.service: create") {
		t.Errorf("the plan after reset should create everything but replace the restored config (%q)", m)
	}
	r = runApply(n, args...)
	if r.Code != 0 {
		t.Fatalf("apply after reset: %s", r)
	}
	checkWithCrictl(t, n, "2.3.4", true)
}

// journalStart matches systemd's lines of a unit stopping and starting.
var journalStart = regexp.MustCompile(`(?m)^.*\bsystemd\[1\]: (Stopping|Stopped|Starting|Started|Failed to start) (containerd\.service|containerd container runtime)\b.*$`)

// containerdStarts are the journal's lines of containerd stopping and
// starting since t. (journald stamps an entry when it receives it: one
// logged after t is stamped after t.)
func containerdStarts(t *testing.T, n *testbed.Node, since time.Time) []string {
	t.Helper()
	n.Run(t, "journalctl", "--sync")
	out := n.Run(t, "journalctl", "--no-pager", "-o", "short-precise", "-u", "containerd.service",
		"--since", fmt.Sprintf("@%d.%06d", since.Unix(), since.Nanosecond()/1000))
	return journalStart.FindAllString(out, -1)
}

// stateArtifact reads an artifact's record from the node's state.json.
func stateArtifact(t *testing.T, n *testbed.Node, name string) map[string]any {
	t.Helper()
	var st struct {
		Version   int
		Artifacts map[string]map[string]any
	}
	b, err := os.ReadFile(n.Path("/var/lib/nodeup/state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Artifacts[name]
}

func crictlVersion(t *testing.T, n *testbed.Node) string {
	t.Helper()
	out := n.Run(t, nodeCrictl, "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "version")
	m := regexp.MustCompile(`RuntimeVersion:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("crictl version:\n%s", out)
	}
	return m[1]
}

// TestUpgrade moves a node from containerd 1.7.30 to 2.3.4 in place: one
// apply replaces the binaries and the config (schema 2 to 4) and restarts
// containerd once; the state records both releases. Going back across the
// schemas is refused unless --allow-downgrade.
func TestUpgrade(t *testing.T) {
	bin := buildNodeup(t)
	n := e2eNode(t, bin)
	old := []string{demoProfile, "--var-file", varFile("1.7.30")}
	if r := runApply(n, old...); r.Code != 0 {
		t.Fatalf("apply of 1.7.30: %s", r)
	}
	if v := crictlVersion(t, n); v != "v1.7.30" {
		t.Fatalf("containerd %s before the upgrade", v)
	}
	pid := mainPID(t, n)
	since := time.Now()

	upgrade := []string{demoProfile, "--var-file", varFile("2.3.4")}
	r := runApply(n, upgrade...)
	t.Logf("upgrade:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("upgrade: %s\n%s", r, n.Journal("containerd"))
	}
	for _, want := range []string{"~ artifact:containerd: update", "~ file:/etc/containerd/config.toml: update", "~ file:/etc/systemd/system/containerd.service: update",
		// 2.x's unit leaves the open-files limit to systemd: the unit changes too,
		// and containerd restarts once after one daemon-reload.
		"daemon-reload, restart (artifact:containerd, file:/etc/containerd/config.toml, file:/etc/systemd/system/containerd.service changed)"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the upgrade's output lacks %q", want)
		}
	}
	if !strings.Contains(r.Stderr, "upgrade containerd 1.7.30 -> 2.3.4") {
		t.Errorf("the upgrade does not say it upgrades")
	}
	stops, starts := restarts(t, n, since)
	if stops != 1 || starts != 1 {
		t.Errorf("containerd stopped %d and started %d times during the upgrade, want once each", stops, starts)
	}
	after := mainPID(t, n)
	if after == pid {
		t.Errorf("containerd's MainPID is still %s", pid)
	}
	if v := crictlVersion(t, n); v != "v2.3.4" {
		t.Errorf("containerd %s after the upgrade", v)
	}
	if cfg := n.Run(t, "cat", "/etc/containerd/config.toml"); !regexp.MustCompile(`(?m)^version = 4$`).MatchString(cfg) {
		t.Errorf("config.toml after the upgrade:\n%s", cfg)
	}
	a := stateArtifact(t, n, "containerd")
	prev, _ := a["previous"].(map[string]any)
	if a["version"] != "2.3.4" || prev == nil || prev["version"] != "1.7.30" {
		t.Errorf("state records containerd %v", a)
	}
	show := n.Run(t, nodeNodeup, "state", "show", "containerd")
	t.Logf("nodeup state show containerd:\n%s", show)
	if !regexp.MustCompile(`replaced\s+1\.7\.30`).MatchString(show) {
		t.Errorf("state show does not name the release replaced")
	}

	// Idempotent after the upgrade.
	r = runApply(n, upgrade...)
	if m := applySummary.FindStringSubmatch(r.Stdout); r.Code != 0 || m == nil || m[1] != "0" || m[2] != "0" {
		t.Errorf("apply after the upgrade: %s", r)
	}
	if again := mainPID(t, n); again != after {
		t.Errorf("the apply after the upgrade restarted containerd")
	}

	// Back to 1.7 across the config schemas: refused, nothing touched.
	r = runApply(n, old...)
	t.Logf("downgrade without --allow-downgrade:\n%s", r.Stderr)
	if r.Code != 1 || !strings.Contains(r.Stderr, "artifact:containerd: containerd 2.3.4 -> 1.7.30 is a downgrade across config schemas (version 4 -> 2)") ||
		!strings.Contains(r.Stderr, "Pass --allow-downgrade") {
		t.Errorf("downgrade: %s", r)
	}
	if again := mainPID(t, n); again != after || crictlVersion(t, n) != "v2.3.4" {
		t.Errorf("the refused downgrade touched containerd")
	}
	r = runApply(n, append([]string{"--allow-downgrade"}, old...)...)
	t.Logf("downgrade with --allow-downgrade:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("downgrade with --allow-downgrade: %s\n%s", r, n.Journal("containerd"))
	}
	if v := crictlVersion(t, n); v != "v1.7.30" {
		t.Errorf("containerd %s after the downgrade", v)
	}
}

// brokenContainerd writes a mirror holding one artifact: containerd 2.3.4's
// archive with a containerd that cannot start (a shell script that exits
// 1), the shim and ctr as released. It returns the host directory and the
// archive's sha256.
func brokenContainerd(t *testing.T, m testbed.Manifest) (string, string) {
	t.Helper()
	a := m.Get(t, "containerd", "2.3.4")
	src, err := os.ReadFile(a.File)
	if err != nil {
		t.Fatal(err)
	}
	replaced := false
	out := retar(t, src, archive.FormatTarGz, func(name string, body []byte) []byte {
		if path.Clean(name) != "bin/containerd" {
			return body
		}
		replaced = true
		return []byte("#!/bin/sh\necho 'containerd: this build cannot start' >&2\nexit 1\n")
	})
	if !replaced {
		t.Fatalf("%s has no bin/containerd", a.File)
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, a.Path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, sha256Hex(out)
}

// TestRollback upgrades a node on containerd 1.7.30 to a 2.3.4 whose
// containerd cannot start. The apply fails, puts 1.7.30's binaries and
// config back, restarts and verifies containerd, says so, and exits 1; the
// state records 1.7.30 and the release taken back.
func TestRollback(t *testing.T) {
	bin := buildNodeup(t)
	m := testbed.ReadManifest(t)
	broken, brokenSHA := brokenContainerd(t, m)
	n := faultNode(t, bin, testbed.Bind{Host: broken, Node: "/srv/mirror-broken", ReadOnly: true})
	old := []string{demoProfile, "--var-file", varFile("1.7.30")}
	if r := runApply(n, old...); r.Code != 0 {
		t.Fatalf("apply of 1.7.30: %s", r)
	}
	before := nodeFiles(t, n, "/usr/local/bin", "/etc/containerd", "/etc/systemd/system")
	profile := demoWith(t, n, "broken", `urls     = [var.mirror_url]`, `urls     = ["file:///srv/mirror-broken", var.mirror_url]`)

	r := runApply(n, profile, "--var-file", varFile("2.3.4"), "--var", "containerd_sha256="+brokenSHA)
	t.Logf("apply of a containerd that cannot start:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	if r.Code != 1 {
		t.Fatalf("apply: want exit 1, got %s", r)
	}
	for _, want := range []string{
		"✗ unit:containerd.service failed", "containerd: this build cannot start",
		"Rollback: containerd.service did not come up verified after this apply changed artifact:containerd, file:/etc/containerd/config.toml",
		"artifact:containerd: back from 2.3.4 to 1.7.30", "put back /usr/local/bin/containerd", "put back /etc/containerd/config.toml",
		"The node is back on containerd 1.7.30 (from 2.3.4) with its previous binaries, config and unit: containerd.service restarted and verified.",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the apply's output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^ok\s+runtime-ready\b`).MatchString(r.Stdout[strings.Index(r.Stdout, "Rollback:"):]) {
		t.Errorf("no passing verification after the rollback")
	}
	if !strings.Contains(r.Stderr, "containerd.service failed after this apply changed it") || !strings.Contains(r.Stderr, "the node is back on containerd 1.7.30") {
		t.Errorf("the error does not say what failed and where the node is")
	}
	if d := stepstest.DiffFiles(before, nodeFiles(t, n, "/usr/local/bin", "/etc/containerd", "/etc/systemd/system")); len(d) > 0 {
		t.Errorf("after the rollback: %v", d)
	}
	if v := crictlVersion(t, n); v != "v1.7.30" {
		t.Errorf("containerd %s after the rollback", v)
	}
	a := stateArtifact(t, n, "containerd")
	rolled, _ := a["rolledBack"].(map[string]any)
	if a["version"] != "1.7.30" || rolled == nil || rolled["version"] != "2.3.4" || rolled["sha256"] != brokenSHA {
		t.Errorf("state records containerd %v", a)
	}
	show := n.Run(t, nodeNodeup, "state", "show", "containerd")
	t.Logf("nodeup state show containerd after the rollback:\n%s", show)
	if !regexp.MustCompile(`rolled back\s+2\.3\.4 \(sha256:` + brokenSHA + `\)`).MatchString(show) {
		t.Errorf("state show does not name the release taken back")
	}
	if _, err := os.Stat(n.Path("/var/lib/nodeup/rollback")); err == nil {
		t.Errorf("the rollback copies are left")
	}
	if r := n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, old...)...); r.Code != 0 {
		t.Errorf("plan of 1.7.30 after the rollback: want exit 0, got %s", r)
	}
}

// metricsFile is where the drift test's timer writes.
const metricsFile = "/var/lib/prometheus/node-exporter/nodeup.prom"

var metric = regexp.MustCompile(`(?m)^(nodeup_[a-z_]+) (\S+)$`)

// runDriftCheck starts the packaged drift service once (a oneshot: start
// returns when it has run) and returns the metrics it wrote.
func runDriftCheck(t *testing.T, n *testbed.Node) map[string]string {
	t.Helper()
	n.Run(t, "systemctl", "start", "nodeup-drift.service")
	if res := strings.TrimSpace(n.Run(t, "systemctl", "show", "-p", "Result", "--value", "nodeup-drift.service")); res != "success" {
		t.Errorf("nodeup-drift.service: %s\n%s", res, n.Journal("nodeup-drift.service"))
	}
	b, err := os.ReadFile(n.Path(metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s:\n%s", metricsFile, b)
	out := map[string]string{}
	for _, m := range metric.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestDriftMetrics installs the packaged nodeup-drift timer and service on
// an applied node and runs the check: no drift and a verified runtime;
// then a config edit (drift) and a stopped containerd (not verified).
func TestDriftMetrics(t *testing.T) {
	bin := buildNodeup(t)
	n := e2eNode(t, bin)
	start := time.Now().Unix()
	if r := runApply(n, demoProfile, "--var-file", varFile("2.3.4")); r.Code != 0 {
		t.Fatalf("apply: %s", r)
	}
	if err := n.CopyIn(filepath.Join(bin, "nodeup"), "/usr/local/bin/nodeup"); err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"nodeup-drift.service", "nodeup-drift.timer"} {
		if err := n.CopyIn(filepath.Join("..", "packaging", unit), "/etc/systemd/system/"+unit); err != nil {
			t.Fatal(err)
		}
	}
	dropIn := "[Service]\nEnvironment=NODEUP_PROFILE=" + demoProfile + "\nEnvironment=\"NODEUP_ARGS=--var-file " + varFile("2.3.4") + "\"\n"
	if err := n.WriteFile("/etc/systemd/system/nodeup-drift.service.d/test.conf", []byte(dropIn), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := n.Exec("systemd-analyze", "verify", "/etc/systemd/system/nodeup-drift.service", "/etc/systemd/system/nodeup-drift.timer"); out.Code != 0 {
		t.Errorf("systemd-analyze verify: %s", out)
	}
	n.Run(t, "systemctl", "daemon-reload")

	m := runDriftCheck(t, n)
	applied, _ := strconv.ParseInt(m["nodeup_last_apply_timestamp_seconds"], 10, 64)
	if m["nodeup_drift_steps"] != "0" || m["nodeup_plan_ok"] != "1" || m["nodeup_verify_ok"] != "1" || m["nodeup_last_apply_ok"] != "1" ||
		applied < start || applied > time.Now().Unix() {
		t.Errorf("metrics of a converged node: %v", m)
	}

	n.Run(t, "sh", "-c", "echo '# local edit' >> /etc/containerd/config.toml")
	m = runDriftCheck(t, n)
	if d, _ := strconv.Atoi(m["nodeup_drift_steps"]); d < 1 || m["nodeup_verify_ok"] != "1" {
		t.Errorf("metrics after a config edit: %v", m)
	}

	n.Run(t, "systemctl", "stop", "containerd.service")
	m = runDriftCheck(t, n)
	if m["nodeup_verify_ok"] != "0" {
		t.Errorf("metrics with containerd stopped: %v", m)
	}

	n.Run(t, "systemctl", "enable", "--now", "nodeup-drift.timer")
	if s := strings.TrimSpace(n.Exec("systemctl", "is-active", "nodeup-drift.timer").Stdout); s != "active" {
		t.Errorf("nodeup-drift.timer is %s", s)
	}
}
