package tests

// What leaves the profile leaves the node, on a real node.
//
//	NODEUP_E2E=1 go test -count=1 -timeout 30m -run 'TestPrune' -v ./tests/

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/tests/testbed"
)

// planDeletes is the count of deletes in a plan's summary.
var planDeletes = regexp.MustCompile(`Plan: \d+ to create, \d+ to update, (\d+) to delete,`)

// restarts counts containerd's stops and starts in the journal since
// since, and logs them.
func restarts(t *testing.T, n *testbed.Node, since time.Time) (stops, starts int) {
	t.Helper()
	lines := containerdStarts(t, n, since)
	t.Logf("containerd's journal:\n%s", strings.Join(lines, "\n"))
	for _, l := range lines {
		switch journalStart.FindStringSubmatch(l)[1] {
		case "Stopping":
			stops++
		case "Started":
			starts++
		}
	}
	return stops, starts
}

// TestPrune applies demo.hcl with a registry block, then the profile
// without the registry, crictl, kata and its runtime: the plan shows each
// as a delete and exits 2; the apply removes hosts.toml and its directory,
// crictl and its config, /opt/kata, restarts containerd once (its
// config.toml lost the kata handler; certs.d is read at each pull and
// needs no restart), and the next plan exits 0. Then a containerd drop-in
// on nodeup's record that the profile does not have (as an earlier
// profile's would be) is removed with one daemon-reload and one restart:
// the removal that by itself restarts a unit.
func TestPrune(t *testing.T) {
	bin := buildNodeup(t)
	n := e2eNode(t, bin)
	vars := []string{"--var-file", varFile("2.3.4")}
	containerdSum := "  sha256  = var.containerd_sha256\n"
	full := demoWith(t, n, "full", containerdSum, containerdSum+"  registry \"docker.io\" {\n    mirrors = [\"https://mirror.internal:5000\"]\n  }\n")
	if r := runApply(n, append([]string{full}, vars...)...); r.Code != 0 {
		t.Fatalf("apply with the registry: %s", r)
	}
	hosts := "/etc/containerd/certs.d/docker.io/hosts.toml"
	if _, err := os.Stat(n.Path(hosts)); err != nil {
		t.Fatal(err)
	}

	lean := demoWith(t, n, "lean",
		"crictl {\n  version = var.crictl_version\n  sha256  = var.crictl_sha256\n}\n", "",
		"kata {\n  version = var.kata_version\n  sha256  = var.kata_sha256\n}\n", "",
		"runtime \"kata-qemu\" {\n  type       = \"kata\"\n  hypervisor = \"qemu\"\n  overhead   = { cpu = \"250m\", memory = \"160Mi\" }\n}\n", "",
		`handlers = ["runc", "kata-qemu"]`, `handlers = ["runc"]`)
	args := append([]string{lean}, vars...)
	r := n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
	t.Logf("plan without the registry, crictl and kata:\n%s", r.Stdout)
	if r.Code != 2 {
		t.Fatalf("plan: want exit 2, got %s", r)
	}
	for _, want := range []string{
		"- file:" + hosts + ": delete (no longer in the profile)\n",
		"- dir:/etc/containerd/certs.d/docker.io: delete (no longer in the profile): remove if empty\n",
		"- artifact:crictl: delete (no longer in the profile): remove /usr/local/bin/crictl\n",
		"- file:/etc/crictl.yaml: delete (no longer in the profile)\n",
		"- artifact:kata: delete (no longer in the profile): remove /opt/kata (kata ",
		"~ file:/etc/containerd/config.toml: update",
		"~ file:/etc/nodeup/runtimeclasses.yaml: update",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan lacks %q", want)
		}
	}

	deletes := planDeletes.FindStringSubmatch(r.Stdout)
	if deletes == nil || deletes[1] == "0" {
		t.Errorf("the plan's summary counts no deletes")
	}
	pid, since := mainPID(t, n), time.Now()
	r = runApply(n, args...)
	t.Logf("apply:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("apply: %s\n%s", r, n.Journal("containerd"))
	}
	if !strings.Contains(r.Stdout, "restart (file:/etc/containerd/config.toml changed)") || deletes == nil || !strings.Contains(r.Stdout, " "+deletes[1]+" deleted,") {
		t.Errorf("the apply does not restart containerd for its config, or deletes otherwise")
	}
	if stops, starts := restarts(t, n, since); stops != 1 || starts != 1 {
		t.Errorf("containerd stopped %d and started %d times, want once each", stops, starts)
	}
	if mainPID(t, n) == pid {
		t.Errorf("containerd was not restarted")
	}
	for _, p := range []string{hosts, "/etc/containerd/certs.d/docker.io", "/usr/local/bin/crictl", "/etc/crictl.yaml", "/opt/kata"} {
		if _, err := os.Lstat(n.Path(p)); err == nil {
			t.Errorf("%s is still on the node", p)
		}
	}
	if info := n.Run(t, nodeCrictl, "--runtime-endpoint", "unix:///run/containerd/containerd.sock", "info"); strings.Contains(info, "kata-qemu") || !strings.Contains(info, `"runc"`) {
		t.Errorf("containerd's handlers after the apply:\n%s", info)
	}
	r = n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
	if r.Code != 0 {
		t.Errorf("plan after the apply: want exit 0, got %s", r)
	}

	// A drop-in nodeup wrote for containerd, loaded by the running
	// containerd, that the profile no longer has.
	dropIn, dir := "/etc/systemd/system/containerd.service.d/20-site.conf", "/etc/systemd/system/containerd.service.d"
	content := "[Service]\nEnvironment=NODEUP_PRUNE_TEST=1\n"
	if err := n.WriteFile(dropIn, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	onRecord(t, n, dropIn, content, dir)
	n.Run(t, "systemctl", "daemon-reload")
	n.Run(t, "systemctl", "restart", "containerd")
	r = n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
	t.Logf("plan with the drop-in on the record:\n%s", r.Stdout)
	for _, want := range []string{"- file:" + dropIn + ": delete (no longer in the profile)\n", "- dir:" + dir + ": delete",
		"~ unit:containerd.service: update daemon-reload, restart (file:" + dropIn + " changed)\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan lacks %q", want)
		}
	}
	pid, since = mainPID(t, n), time.Now()
	if r = runApply(n, args...); r.Code != 0 {
		t.Fatalf("apply: %s", r)
	}
	if stops, starts := restarts(t, n, since); stops != 1 || starts != 1 || mainPID(t, n) == pid {
		t.Errorf("containerd stopped %d and started %d times for its removed drop-in, want once each", stops, starts)
	}
	show := n.Run(t, "systemctl", "show", "-p", "DropInPaths", "-p", "NeedDaemonReload", "-p", "Environment", "containerd.service")
	if strings.Contains(show, dropIn) || strings.Contains(show, "NODEUP_PRUNE_TEST") || !strings.Contains(show, "NeedDaemonReload=no") {
		t.Errorf("containerd after its drop-in was removed:\n%s", show)
	}
	if _, err := os.Lstat(n.Path(dir)); err == nil {
		t.Errorf("%s is still there", dir)
	}
	if r = n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...); r.Code != 0 {
		t.Errorf("plan after the drop-in's removal: want exit 0, got %s", r)
	}
}

// onRecord puts a file and the directory it is in on the node's
// state.json as nodeup's, as an earlier profile that wrote it would have.
func onRecord(t *testing.T, n *testbed.Node, file, content, dir string) {
	t.Helper()
	p := n.Path("/var/lib/nodeup/state.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["files"].(map[string]any)[file] = digest.Bytes([]byte(content))
	dirs, _ := st["dirs"].([]any)
	st["dirs"] = append(dirs, dir)
	if b, err = json.MarshalIndent(st, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
