package tests

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/tests/testbed"
)

// fleetSubnet is the private network the fleet test makes inside its own network
// namespace: the controller is .1 on a bridge there, node i is .(10+i).
const fleetSubnet = "10.231.7."

// fleetSecret is the fleet's sensitive value: it must reach each node's values file and
// never Ansible's output. Its "${" must stay text, not become an HCL template.
const fleetSecret = "s3cr3t-${not-a-template}-9f1c"

// ansibleFleet is three SSH nodes on a bridge in a network namespace of the test's own,
// and what ansible-playbook needs to reach them from the host.
type ansibleFleet struct {
	nodes   []*testbed.Node
	netns   string
	work    string
	profile string // the good profile on the controller, edited by the test
	bad     string // a profile whose verification fails
}

// TestAnsibleFleet rolls the demo profile over three nodes with the shipped role and
// playbook (packaging/ansible), from ansible-playbook on the host over SSH: the first run
// changes and verifies all three, the second changes nothing, --check --diff after a
// profile edit shows the diff and changes nothing, and a node whose verification fails
// fails its batch so the next batch is never touched.
func TestAnsibleFleet(t *testing.T) {
	testbed.InstallDeps(t)
	f := newAnsibleFleet(t, 3)

	// 1. First run: every node changed and verified.
	out, err := f.playbook(t, nil)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	recap := playRecap(t, out)
	for _, n := range f.hosts() {
		if r, ok := recap[n]; !ok || r["changed"] == 0 || r["failed"] != 0 || r["unreachable"] != 0 {
			t.Errorf("first run: %s: recap %v", n, r)
		}
	}
	if got := strings.Count(out, "verify ok"); got != 3 {
		t.Errorf("first run: %d nodes report a passing verification, want 3", got)
	}
	for _, n := range f.nodes {
		if s := strings.TrimSpace(n.Exec("systemctl", "is-active", "containerd").Stdout); s != "active" {
			t.Errorf("%s: containerd is %q", n.Name, s)
		}
		if st := n.Run(t, "stat", "-c", "%a", "/etc/nodeup/profile.d", "/etc/nodeup/profile.d/nodeup.auto.vars.hcl"); st != "700\n600\n" {
			t.Errorf("%s: profile directory and values modes: %q", n.Name, st)
		}
	}
	if strings.Contains(out, "1888ae094a035a21762220fe655163226c3308a6929a08dbb846de4b1104ca95") {
		t.Error("the playbook's output shows a value from the values file")
	}
	for _, n := range f.nodes {
		if vars := n.Run(t, "cat", "/etc/nodeup/profile.d/nodeup.auto.vars.hcl"); !strings.Contains(vars, `join_token = "s3cr3t-$${not-a-template}-9f1c"`) {
			t.Errorf("%s: the values file lacks the escaped sensitive value:\n%s", n.Name, vars)
		}
	}

	// 2. Second run: nothing changes anywhere.
	out, err = f.playbook(t, nil)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	recap = playRecap(t, out)
	for _, n := range f.hosts() {
		if r, ok := recap[n]; !ok || r["changed"] != 0 || r["failed"] != 0 {
			t.Errorf("second run: %s: recap %v, want changed=0", n, r)
		}
	}

	// 3. A profile edit under --check --diff: the plan's diff, nothing changed.
	original, err := os.ReadFile(f.profile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(original), `cgroup_driver = "systemd"`, `cgroup_driver = "cgroupfs"`, 1)
	if edited == string(original) {
		t.Fatal("the demo profile has no cgroup_driver line to edit")
	}
	if err := os.WriteFile(f.profile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, n := range f.nodes {
		before[n.Name] = n.Run(t, "sha256sum", "/etc/containerd/config.toml", "/etc/nodeup/profile.d/demo.hcl")
	}
	out, err = f.playbook(t, nil, "--check", "--diff")
	if err != nil {
		t.Fatalf("--check --diff: %v", err)
	}
	recap = playRecap(t, out)
	for _, n := range f.hosts() {
		if r := recap[n]; r["changed"] == 0 || r["failed"] != 0 {
			t.Errorf("--check --diff: %s: recap %v, want changes reported", n, r)
		}
	}
	for _, want := range []string{"update file:/etc/containerd/config.toml", "-            SystemdCgroup = true", "+            SystemdCgroup = false"} {
		if got := strings.Count(out, want); got < 3 {
			t.Errorf("--check --diff shows %q %d times, want once per node", want, got)
		}
	}
	for _, n := range f.nodes {
		if after := n.Run(t, "sha256sum", "/etc/containerd/config.toml", "/etc/nodeup/profile.d/demo.hcl"); after != before[n.Name] {
			t.Errorf("%s: --check changed the node:\n%s\n%s", n.Name, before[n.Name], after)
		}
		if r := n.Exec("sh", "-c", "ls -d /tmp/nodeup-plan.* 2>/dev/null"); strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("%s: --check left its scratch profile: %s", n.Name, r.Stdout)
		}
	}
	if err := os.WriteFile(f.profile, original, 0o644); err != nil {
		t.Fatal(err)
	}

	// 4. The second node gets a profile whose verification fails: its batch fails and
	// the third node's batch never runs.
	third := f.nodes[2]
	thirdBefore := third.Run(t, "sha256sum", "/etc/nodeup/profile.d/demo.hcl", "/etc/containerd/config.toml")
	out, err = f.playbook(t, map[string]any{f.hosts()[1]: map[string]any{"nodeup_profile_files": []string{f.bad}}})
	if err == nil {
		t.Fatal("the run with a failing node succeeded")
	}
	recap = playRecap(t, out)
	if r := recap[f.hosts()[0]]; r["changed"] != 0 || r["failed"] != 0 {
		t.Errorf("failing run: first batch %v, want unchanged and ok", r)
	}
	if r := recap[f.hosts()[1]]; r["failed"] != 1 {
		t.Errorf("failing run: second batch %v, want failed=1", r)
	}
	if r, ok := recap[f.hosts()[2]]; ok && r["ok"]+r["changed"] != 0 {
		t.Errorf("failing run: the third batch ran: %v", r)
	}
	if !regexp.MustCompile(`nodeup apply failed: verify:cri: verification failed: network-ready: not ready`).MatchString(out) {
		t.Errorf("failing run: the failed task does not give nodeup's verification error")
	}
	if after := third.Run(t, "sha256sum", "/etc/nodeup/profile.d/demo.hcl", "/etc/containerd/config.toml"); after != thirdBefore {
		t.Errorf("the third node changed:\n%s\n%s", thirdBefore, after)
	}
}

func (f *ansibleFleet) hosts() []string {
	var names []string
	for i := range f.nodes {
		names = append(names, fmt.Sprintf("fleet-%d", i+1))
	}
	return names
}

// newAnsibleFleet boots count SSH nodes with the mirror, joins them to a bridge in a new
// network namespace, and writes the controller's key, known_hosts and profiles.
func newAnsibleFleet(t *testing.T, count int) *ansibleFleet {
	t.Helper()
	f := &ansibleFleet{work: t.TempDir()}
	rootfs := testbed.SSHRootfs(t)
	priv, _ := sshKey(t, f.work)
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	f.netns = "nodeup-fleet-" + hex.EncodeToString(suffix)
	ip(t, "netns", "add", f.netns)
	t.Cleanup(func() { _, _ = hostCommand(t, "ip", "netns", "del", f.netns) })
	ip(t, "-n", f.netns, "link", "set", "lo", "up")
	ip(t, "-n", f.netns, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", f.netns, "addr", "add", fleetSubnet+"1/24", "dev", "br0")
	ip(t, "-n", f.netns, "link", "set", "br0", "up")

	var known strings.Builder
	for i := 0; i < count; i++ {
		n := testbed.Create(t, testbed.Options{Rootfs: rootfs, Binds: []testbed.Bind{testbed.MirrorBind(t)}})
		f.nodes = append(f.nodes, n)
		// Its own host key and the controller's key, before boot starts sshd.
		if err := os.MkdirAll(n.Path("/root/.ssh"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := n.WriteFile("/root/.ssh/authorized_keys", []byte(authorizedKey(t, priv)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := hostCommand(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", n.Name, "-f", n.Path("/etc/ssh/ssh_host_ed25519_key")); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		n.Start()
		addr := fleetSubnet + strconv.Itoa(11+i)
		// The node's end is eth0 in its namespace, the other a bridge port in the fleet's.
		port := fmt.Sprintf("fleet%d", i+1)
		if out, err := n.InNetwork("ip", "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", f.netns).CombinedOutput(); err != nil {
			t.Fatalf("%s: veth: %v\n%s", n.Name, err, out)
		}
		ip(t, "-n", f.netns, "link", "set", port, "master", "br0", "up")
		n.Run(t, "ip", "addr", "add", addr+"/24", "dev", "eth0")
		n.Run(t, "ip", "link", "set", "eth0", "up")
		if s := strings.TrimSpace(n.Exec("systemctl", "is-active", "ssh.service").Stdout); s != "active" {
			t.Fatalf("%s: ssh.service is %q:\n%s", n.Name, s, n.Journal("ssh.service"))
		}
		hostKey := n.Run(t, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
		fields := strings.Fields(hostKey)
		known.WriteString(addr + " " + fields[0] + " " + fields[1] + "\n")
	}
	if err := os.WriteFile(filepath.Join(f.work, "known_hosts"), []byte(known.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// The profiles: the demo one, and one whose verification cannot pass in a node
	// (NetworkReady without a network config), failing after 10 s.
	demoFile, err := os.ReadFile(filepath.Join(profilesDir(t), "demo.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	// A sensitive value too (given through nodeup_sensitive_vars).
	demo := string(demoFile) + "\nvariable \"join_token\" {\n  sensitive = true\n}\n"
	f.profile = filepath.Join(f.work, "profile", "demo.hcl")
	f.bad = filepath.Join(f.work, "bad", "demo.hcl")
	bad := strings.Replace(strings.Replace(demo, `timeout  = "60s"`, `timeout  = "10s"`, 1),
		`handlers = ["runc", "kata-qemu"]`, `handlers = ["runc", "kata-qemu"]`+"\n  network_ready = true", 1)
	if bad == demo || !strings.Contains(bad, "network_ready") {
		t.Fatal("the demo profile's verify block is not as expected")
	}
	for p, data := range map[string]string{f.profile: demo, f.bad: bad} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := hostCommand(t, "ip", args...); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// playbook runs packaging/ansible/examples/fleet.yml from the host inside the fleet's
// network namespace, with an inventory of the nodes (hostVars added per host), and
// returns its output.
func (f *ansibleFleet) playbook(t *testing.T, hostVars map[string]any, args ...string) (string, error) {
	t.Helper()
	bin := filepath.Join(f.work, "nodeup")
	if _, err := os.Stat(bin); err != nil {
		dir := buildNodeup(t)
		if err := os.Rename(filepath.Join(dir, "nodeup"), bin); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hosts := map[string]any{}
	for i, name := range f.hosts() {
		h := map[string]any{"ansible_host": fleetSubnet + strconv.Itoa(11+i)}
		if extra, ok := hostVars[name].(map[string]any); ok {
			for k, v := range extra {
				h[k] = v
			}
		}
		hosts[name] = h
	}
	inventory := map[string]any{"nodes": map[string]any{
		"hosts": hosts,
		"vars": map[string]any{
			"ansible_user":                 "root",
			"ansible_ssh_private_key_file": filepath.Join(f.work, "id_ecdsa"),
			"ansible_ssh_common_args":      "-o UserKnownHostsFile=" + filepath.Join(f.work, "known_hosts") + " -o StrictHostKeyChecking=yes",
			"nodeup_binary_src":            bin,
			"nodeup_binary_sha256":         hex.EncodeToString(sum[:]),
			"nodeup_profile_files":         []string{f.profile},
			"nodeup_vars":                  fleetValues(t),
			"nodeup_sensitive_vars":        map[string]string{"join_token": fleetSecret},
		},
	}}
	inv, _ := json.MarshalIndent(inventory, "", "  ")
	invFile := filepath.Join(f.work, "inventory.yml")
	if err := os.WriteFile(invFile, inv, 0o600); err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Abs("../packaging/ansible/examples")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", f.netns, "ansible-playbook", "-i", invFile, filepath.Join(examples, "fleet.yml")}, args...)...)
	cmd.Dir = examples
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + f.work, "LANG=C.UTF-8",
		"ANSIBLE_CONFIG=" + filepath.Join(examples, "ansible.cfg"), "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0"}
	out, err := cmd.CombinedOutput()
	t.Logf("ansible-playbook %s: %v\n%s", strings.Join(args, " "), err, out)
	if strings.Contains(string(out), "s3cr3t") {
		t.Errorf("ansible-playbook %s shows the sensitive value", strings.Join(args, " "))
	}
	for _, line := range regexp.MustCompile(`(?m)^fleet-\d+\s+: ok=.*$`).FindAllString(string(out), -1) {
		t.Logf("PLAY RECAP %s", line)
	}
	return string(out), err
}

// fleetValues are the demo profile's values for the test bed's mirror, read from its
// variables file (NAME = "VALUE" lines).
func fleetValues(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(testbed.VarFile(t, "2.3.4"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(string(data), -1) {
		values[m[1]] = m[2]
	}
	if len(values) < 10 {
		t.Fatalf("the variables file has %d values", len(values))
	}
	return values
}

// playRecap reads the PLAY RECAP lines: host -> ok, changed, unreachable, failed, ...
func playRecap(t *testing.T, out string) map[string]map[string]int {
	t.Helper()
	i := strings.LastIndex(out, "PLAY RECAP")
	if i < 0 {
		t.Fatalf("no PLAY RECAP in the output")
	}
	recap := map[string]map[string]int{}
	for _, line := range strings.Split(out[i:], "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[1] != ":" {
			continue
		}
		counts := map[string]int{}
		for _, kv := range fields[2:] {
			k, v, _ := strings.Cut(kv, "=")
			counts[k], _ = strconv.Atoi(v)
		}
		recap[fields[0]] = counts
	}
	return recap
}
