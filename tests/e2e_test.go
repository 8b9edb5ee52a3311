package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/tests/testbed"
)

// Where the end-to-end tests mount things inside a node.
const (
	nodeNodeupDir   = "/srv/nodeup"
	nodeProfilesDir = "/srv/profiles"
	nodeNodeup      = nodeNodeupDir + "/nodeup"
	nodeCrictl      = nodeNodeupDir + "/crictl"
	demoProfile     = nodeProfilesDir + "/demo.hcl"
)

// buildNodeup builds a static nodeup binary and puts the test bed's crictl
// beside it: crictl is the independent client that checks what nodeup did.
func buildNodeup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "nodeup"), "../cmd/nodeup")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build nodeup: %v\n%s", err, out)
	}
	crictl, err := os.ReadFile(testbed.CrictlPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crictl"), crictl, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func profilesDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../profiles")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// e2eNode boots a fresh node with the mirror, nodeup and the profiles.
func e2eNode(t *testing.T, bin string) *testbed.Node {
	return testbed.Boot(t, testbed.Options{Binds: []testbed.Bind{
		testbed.MirrorBind(t),
		{Host: bin, Node: nodeNodeupDir, ReadOnly: true},
		{Host: profilesDir(t), Node: nodeProfilesDir, ReadOnly: true},
	}})
}

func varFile(version string) string {
	return testbed.NodeMirrorDir + "/vars-containerd-" + version + ".hcl"
}

// mainPID is containerd's main process as systemd sees it.
func mainPID(t *testing.T, n *testbed.Node) string {
	t.Helper()
	pid := strings.TrimSpace(n.Run(t, "systemctl", "show", "-p", "MainPID", "--value", "containerd.service"))
	if pid == "" || pid == "0" {
		t.Fatalf("containerd has no main PID: %q\n%s", pid, n.Journal("containerd"))
	}
	return pid
}

var applySummary = regexp.MustCompile(`Apply: (\d+) created, (\d+) updated, (?:\d+ deleted, )?(\d+) unchanged, (\d+) skipped, (\d+) failed`)

func TestApplyConvergesFreshNode(t *testing.T) {
	bin := buildNodeup(t)
	for _, c := range []struct {
		version      string
		cgroupDriver bool // crictl runtime-config answers (containerd 2.x)
	}{
		{"2.3.4", true},
		{"1.7.30", false},
	} {
		t.Run("containerd-"+c.version, func(t *testing.T) {
			n := e2eNode(t, bin)
			args := []string{demoProfile, "--var-file", varFile(c.version)}

			// Before the first apply, the plan has changes: exit 2.
			r := n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
			if r.Code != 2 {
				t.Fatalf("plan before apply: want exit 2, got %s", r)
			}
			if !strings.Contains(r.Stdout, "+ artifact:containerd: create") || !strings.Contains(r.Stdout, "+++ /etc/containerd/config.toml") {
				t.Errorf("plan does not show the containerd install and the config diff:\n%s", r.Stdout)
			}

			r = n.Exec(append([]string{nodeNodeup, "apply"}, args...)...)
			if r.Code != 0 {
				t.Fatalf("first apply: %s\n%s", r, n.Journal("containerd"))
			}
			t.Logf("first apply:\n%s", r.Stdout)
			m := applySummary.FindStringSubmatch(r.Stdout)
			if m == nil || m[1] == "0" || m[5] != "0" {
				t.Fatalf("first apply summary: %q", m)
			}
			for _, check := range []string{"version", "runtime-ready", "handler runc", "handler kata-qemu", "cni bridge"} {
				if !regexp.MustCompile(`(?m)^\s*ok\s+` + regexp.QuoteMeta(check) + `\b`).MatchString(r.Stdout) {
					t.Errorf("verification table lacks a passing %q check:\n%s", check, r.Stdout)
				}
			}

			checkWithCrictl(t, n, c.version, c.cgroupDriver)
			checkNodeFiles(t, n)
			pid := mainPID(t, n)

			// The second apply changes nothing and restarts nothing.
			r = n.Exec(append([]string{nodeNodeup, "apply"}, args...)...)
			if r.Code != 0 {
				t.Fatalf("second apply: %s", r)
			}
			t.Logf("second apply:\n%s", r.Stdout)
			m = applySummary.FindStringSubmatch(r.Stdout)
			if m == nil || m[1] != "0" || m[2] != "0" || m[5] != "0" {
				t.Errorf("second apply changed something: %q\n%s", m, r.Stdout)
			}
			if again := mainPID(t, n); again != pid {
				t.Errorf("containerd restarted by the second apply: MainPID %s -> %s", pid, again)
			}
			r = n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
			if r.Code != 0 {
				t.Errorf("plan after apply: want exit 0, got %s", r)
			}

			// A changed config file is put back and containerd restarted.
			n.Run(t, "sh", "-c", "echo '# local edit' >> /etc/containerd/config.toml")
			r = n.Exec(append([]string{nodeNodeup, "apply"}, args...)...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "~ file:/etc/containerd/config.toml: update") || !strings.Contains(r.Stdout, "restart (file:/etc/containerd/config.toml changed)") {
				t.Errorf("apply after a local edit: %s", r)
			}
			if again := mainPID(t, n); again == pid {
				t.Errorf("containerd not restarted after its config changed (MainPID %s)", pid)
			}
			backups := n.Run(t, "find", "/var/lib/nodeup/backup", "-type", "f")
			if !strings.Contains(backups, "/etc/containerd/config.toml") {
				t.Errorf("the edited config was not backed up: %q", backups)
			}
		})
	}
}

// TestDriftInBinariesAndTrees changes what an apply installed the way an
// operator or an intruder might, below what a file step sees: the mode of
// a binary, a file deleted from /opt/kata. plan must show each, and the
// next apply repair it.
func TestDriftInBinariesAndTrees(t *testing.T) {
	bin := buildNodeup(t)
	n := e2eNode(t, bin)
	args := []string{demoProfile, "--var-file", varFile("2.3.4")}
	if r := n.Exec(append([]string{nodeNodeup, "apply"}, args...)...); r.Code != 0 {
		t.Fatalf("first apply: %s", r)
	}
	n.Run(t, "chmod", "644", "/usr/local/bin/containerd")
	n.Run(t, "rm", "/opt/kata/bin/containerd-shim-kata-v2")

	r := n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...)
	if r.Code != 2 {
		t.Fatalf("plan after drift: want exit 2, got %s", r)
	}
	for _, want := range []string{
		"~ artifact:containerd: update reinstall containerd 2.3.4: /usr/local/bin/containerd has mode 0644, the profile installs it 0755",
		"~ artifact:kata: update reinstall kata 3.32.0: /opt/kata/bin/containerd-shim-kata-v2 is missing",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("plan after drift lacks %q:\n%s", want, r.Stdout)
		}
	}
	if r := n.Exec(append([]string{nodeNodeup, "apply"}, args...)...); r.Code != 0 {
		t.Fatalf("apply after drift: %s", r)
	}
	if mode := strings.TrimSpace(n.Run(t, "stat", "-c", "%a", "/usr/local/bin/containerd")); mode != "755" {
		t.Errorf("containerd mode after repair: %s", mode)
	}
	n.Run(t, "test", "-x", "/opt/kata/bin/containerd-shim-kata-v2")
	if r := n.Exec(append([]string{nodeNodeup, "plan", "--detailed-exitcode"}, args...)...); r.Code != 0 {
		t.Errorf("plan after repair: want exit 0, got %s", r)
	}
}

// checkWithCrictl asks the runtime, through a client nodeup does not
// contain, whether it is what the profile says.
func checkWithCrictl(t *testing.T, n *testbed.Node, version string, cgroupDriver bool) {
	t.Helper()
	crictl := []string{nodeCrictl, "--runtime-endpoint", "unix:///run/containerd/containerd.sock"}
	out := n.Run(t, append(crictl, "version")...)
	if !strings.Contains(out, "RuntimeName:  containerd") || !strings.Contains(out, version) {
		t.Errorf("crictl version:\n%s", out)
	}
	var info struct {
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status bool   `json:"status"`
			} `json:"conditions"`
			RuntimeHandlers []struct {
				Name string `json:"name"`
			} `json:"runtimeHandlers"`
		} `json:"status"`
		Config struct {
			Containerd struct {
				Runtimes map[string]json.RawMessage `json:"runtimes"`
			} `json:"containerd"`
		} `json:"config"`
	}
	raw := n.Run(t, append(crictl, "info")...)
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		t.Fatalf("crictl info: %v\n%s", err, raw)
	}
	ready := false
	for _, c := range info.Status.Conditions {
		if c.Type == "RuntimeReady" {
			ready = c.Status
		}
	}
	if !ready {
		t.Errorf("crictl info: RuntimeReady is not true:\n%s", raw)
	}
	handlers := map[string]bool{}
	for _, h := range info.Status.RuntimeHandlers {
		handlers[h.Name] = true
	}
	for name := range info.Config.Containerd.Runtimes {
		handlers[name] = true
	}
	for _, h := range []string{"runc", "kata-qemu"} {
		if !handlers[h] {
			t.Errorf("crictl info: handler %s is not registered (have %v)", h, handlers)
		}
	}
	if cgroupDriver {
		out := n.Run(t, append(crictl, "runtime-config")...)
		if !strings.Contains(out, "SYSTEMD") {
			t.Errorf("crictl runtime-config: want cgroup driver SYSTEMD:\n%s", out)
		}
	} else {
		cfg := n.Run(t, "cat", "/etc/containerd/config.toml")
		if !strings.Contains(cfg, "SystemdCgroup = true") {
			t.Errorf("config.toml lacks SystemdCgroup = true:\n%s", cfg)
		}
	}
}

// checkNodeFiles checks the files nodeup renders (docs/profile.md, "Files on the node") on the node.
func checkNodeFiles(t *testing.T, n *testbed.Node) {
	t.Helper()
	for _, p := range []string{
		"/usr/local/bin/containerd", "/usr/local/bin/containerd-shim-runc-v2", "/usr/local/bin/ctr",
		"/usr/local/sbin/runc", "/opt/cni/bin/bridge", "/opt/cni/bin/loopback", "/opt/cni/bin/host-local", "/opt/cni/bin/portmap",
		"/opt/kata/bin/containerd-shim-kata-v2", "/usr/local/bin/crictl",
	} {
		n.Run(t, "test", "-x", p)
	}
	for p, want := range map[string]string{
		"/etc/containerd/config.toml":                                 "SystemdCgroup = true",
		"/etc/systemd/system/containerd.service":                      "Delegate=yes",
		"/etc/crictl.yaml":                                            "unix:///run/containerd/containerd.sock",
		"/etc/kubernetes/kubelet.conf.d/50-nodeup.conf":               "cgroupDriver: systemd",
		"/etc/modules-load.d/nodeup.conf":                             "br_netfilter",
		"/etc/sysctl.d/99-nodeup.conf":                                "net.ipv4.ip_forward = 1",
		"/etc/nodeup/runtimeclasses.yaml":                             "handler: kata-qemu",
		"/var/lib/nodeup/state.json":                                  "/etc/containerd/config.toml",
		"/opt/kata/share/defaults/kata-containers/configuration.toml": "",
	} {
		out := n.Run(t, "cat", p)
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", p, want, out)
		}
	}
	if out := n.Run(t, "systemctl", "is-enabled", "containerd.service"); strings.TrimSpace(out) != "enabled" {
		t.Errorf("containerd.service is %q", out)
	}
	if out := n.Run(t, "find", "/etc", "/usr/local", "/opt", "/var/lib/nodeup", "-name", ".nodeup-tmp-*"); strings.TrimSpace(out) != "" {
		t.Errorf("temporary files left behind:\n%s", out)
	}
}
