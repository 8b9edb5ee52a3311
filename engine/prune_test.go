package engine

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

const (
	dockerHosts  = "/etc/containerd/certs.d/docker.io/hosts.toml"
	quayHosts    = "/etc/containerd/certs.d/quay.io/hosts.toml"
	distroCrictl = "runtime-endpoint: unix:///var/run/distro.sock\n"
)

// A profile that drops registries, crictl, kata (and its runtime), the
// kubelet and a kernel module: the plan shows each as a delete and changes
// nothing; the apply takes them off the node (putting back the crictl.yaml
// nodeup had replaced, leaving a hosts.toml edited by hand with a warning),
// stops and disables the kubelet with one daemon-reload, restarts
// containerd once for its new config.toml, and the next plan has nothing
// to do. Neither the verification nor anything the graph still writes is
// pruned.
func TestPruneTakesOffWhatLeftTheProfile(t *testing.T) {
	r := newRelease(t)
	r.nodeExtra = "\n  kernel_modules = [\"overlay\", \"br_netfilter\", \"dummy\"]"
	r.containerdExtra = "\n  registry \"docker.io\" {\n    mirrors = [\"https://mirror.internal:5000\"]\n  }\n  registry \"quay.io\" {\n    mirrors = [\"https://mirror.internal:5001\"]\n  }"
	n := newGraphNode(t)
	n.Write(paths.CrictlConfig, distroCrictl, 0o644)
	n.converge(r.graph())
	n.Write(quayHosts, "# an operator's edit\n", 0o644)

	r.nodeExtra, r.containerdExtra = "", ""
	r.without = map[string]bool{"crictl": true, "kata": true, "kubelet": true}
	g := r.graph()
	if err := AddPrunes(g, n.Env); err != nil {
		t.Fatal(err)
	}
	before := stepstest.Snapshot(t, n.Root)
	planned := n.run(g, false)
	stepstest.SameSnapshot(t, "plan", before, stepstest.Snapshot(t, n.Root))
	if calls := n.Fake.Calls(); len(calls) != 0 {
		t.Errorf("the plan called %q", calls)
	}
	want := map[string]string{
		"file:" + dockerHosts:                       "(no longer in the profile)",
		"file:" + paths.CrictlConfig:                "(no longer in the profile): restore /etc/crictl.yaml (from /var/lib/nodeup/backup/etc/crictl.yaml, the file nodeup replaced)",
		"artifact:crictl":                           "(no longer in the profile): remove /usr/local/bin/crictl",
		"artifact:kubelet":                          "(no longer in the profile): remove /usr/local/bin/kubelet",
		"artifact:kata":                             "(no longer in the profile): remove /opt/kata (kata 3.32.0: ",
		"unit:kubelet.service":                      "(no longer in the profile): stop kubelet.service, disable kubelet.service, remove /etc/systemd/system/kubelet.service (written by nodeup), remove /etc/systemd/system/kubelet.service.d/10-nodeup.conf (written by nodeup), reload systemd",
		"dir:/etc/containerd/certs.d/docker.io":     "(no longer in the profile): remove if empty",
		"dir:/etc/systemd/system/kubelet.service.d": "(no longer in the profile): remove if empty",
		"module:dummy":                              "(no longer in the profile): off /etc/modules-load.d/nodeup.conf; the running kernel keeps it loaded until the next boot",
	}
	for id, reason := range want {
		res, ok := planned[id]
		if !ok || res.Err != nil || res.Action != steps.Delete || !strings.HasPrefix(res.Reason, reason) {
			t.Errorf("plan: %s: %+v, want delete %q", id, res, reason)
		}
	}
	if res := planned["file:"+quayHosts]; res.Action != steps.NoOp || !strings.Contains(res.Reason, "changed since nodeup wrote it") {
		t.Errorf("plan: the hosts.toml edited by hand: %+v", res)
	}
	if res := planned[steps.UnitID(paths.ContainerdService)]; !strings.Contains(res.Reason, "restart (file:/etc/containerd/config.toml changed)") {
		t.Errorf("plan: containerd: %+v", res)
	}
	for id := range planned {
		if strings.HasPrefix(id, "dir:/etc/containerd") && !slices.Contains([]string{"dir:/etc/containerd", "dir:/etc/containerd/certs.d", "dir:/etc/containerd/certs.d/docker.io", "dir:/etc/containerd/certs.d/quay.io"}, id) {
			t.Errorf("plan prunes %s", id)
		}
	}
	if res := planned[steps.VerifyID]; res.Action == steps.Delete {
		t.Errorf("verify pruned: %+v", res)
	}

	n.Warns = nil
	applied := n.run(g, true)
	for id, res := range applied {
		if res.Err != nil {
			t.Errorf("apply: %s: %v", id, res.Err)
		}
	}
	for _, p := range []string{dockerHosts, "/etc/containerd/certs.d/docker.io", "/usr/local/bin/crictl", "/usr/local/bin/kubelet", "/opt/kata",
		"/etc/systemd/system/kubelet.service", "/etc/systemd/system/kubelet.service.d", "/etc/systemd/system/multi-user.target.wants/kubelet.service"} {
		if n.Exists(p) {
			t.Errorf("%s is still on the node", p)
		}
	}
	if got := n.Read(paths.CrictlConfig); got != distroCrictl {
		t.Errorf("crictl.yaml: %q, want the distribution's back", got)
	}
	if got := n.Read(quayHosts); got != "# an operator's edit\n" {
		t.Errorf("the edited hosts.toml: %q", got)
	}
	if !slices.ContainsFunc(n.Warns, func(w string) bool {
		return strings.Contains(w, quayHosts) && strings.Contains(w, "changed since nodeup wrote it")
	}) {
		t.Errorf("no warning about the edited hosts.toml: %q", n.Warns)
	}
	calls := n.Fake.Calls()
	for call, times := range map[string]int{"stop kubelet.service": 1, "disable kubelet.service": 1, "daemon-reload": 1, "restart containerd.service": 1, "restart kubelet.service": 0} {
		op, unit, _ := strings.Cut(call, " ")
		if got := n.Fake.Count(op, unit); got != times {
			t.Errorf("%s %d times, want %d: %q", call, got, times, calls)
		}
	}
	snap := n.Env.State.Snapshot()
	for _, name := range []string{"crictl", "kata", "kubelet"} {
		if _, ok := snap.Artifacts[name]; ok {
			t.Errorf("artifact %s still recorded", name)
		}
	}
	if _, ok := snap.Units["kubelet.service"]; ok {
		t.Error("kubelet.service still recorded")
	}
	if _, ok := snap.Files[quayHosts]; ok {
		t.Error("the edited hosts.toml is still nodeup's on the record")
	}

	n.Settle("containerd.service")
	again := r.graph()
	if err := AddPrunes(again, n.Env); err != nil {
		t.Fatal(err)
	}
	if again.Len() != r.graph().Len() {
		t.Errorf("after the apply, prunes are left: %v", again.IDs())
	}
	if ids := changedIDs(n.run(again, false)); len(ids) != 0 {
		t.Errorf("the plan after the apply changes %v", ids)
	}
}

// A drop-in nodeup wrote for a unit that stays, and that the profile no
// longer has, goes before the unit: systemd reloads once and the unit
// restarts once.
func TestPruneOfADropInRestartsItsUnit(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	g := r.graph()
	n.converge(g)
	dropIn := "/etc/systemd/system/containerd.service.d/20-site.conf"
	content := "[Service]\nLimitNOFILE=1048576\n"
	n.Write(dropIn, content, 0o644)
	n.Env.State.Record(dropIn, digest.Bytes([]byte(content)))
	n.Env.State.RecordDir(dropIn[:strings.LastIndex(dropIn, "/")])
	n.Fake.Unit("containerd.service").DropIns = []string{dropIn}

	g = r.graph()
	if err := AddPrunes(g, n.Env); err != nil {
		t.Fatal(err)
	}
	planned := n.run(g, false)
	if res := planned["file:"+dropIn]; res.Action != steps.Delete {
		t.Errorf("plan: the drop-in: %+v", res)
	}
	if res := planned[steps.UnitID(paths.ContainerdService)]; res.Reason != "daemon-reload, restart (file:"+dropIn+" changed)" {
		t.Errorf("plan: containerd: %q", res.Reason)
	}
	n.converge(g)
	if n.Exists(dropIn) || n.Exists("/etc/systemd/system/containerd.service.d") {
		t.Error("the drop-in or its directory is still there")
	}
	if c, rs := n.Fake.Count("daemon-reload", ""), n.Fake.Count("restart", "containerd.service"); c != 1 || rs != 1 {
		t.Errorf("%d daemon-reloads and %d restarts, want 1 and 1: %q", c, rs, n.Fake.Calls())
	}
}

// What a graph writes is never pruned, nor the profile an image keeps for
// its boot, nor nodeup's own files; a file the state lists outside where
// nodeup writes is left alone, as reset leaves it.
func TestPruneLeavesWhatTheGraphMakes(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	g := r.graph()
	n.converge(g)
	st := n.Env.State
	kept := paths.ProfileDir + "/node.hcl"
	n.Write(kept, "node {}\n", 0o644)
	st.Record(kept, digest.Bytes([]byte("node {}\n")))
	st.RecordDir(paths.ProfileDir)
	n.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
	st.Record("/etc/passwd", digest.Bytes([]byte("root:x:0:0::/root:/bin/sh\n")))
	n.Write("/srv/x", "x", 0o644)
	st.RecordTree("/", state.Tree{"srv/x": {SHA256: digest.Bytes([]byte("x"))}})

	g = r.graph()
	ids := g.IDs()
	if err := AddPrunes(g, n.Env); err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, id := range g.IDs() {
		if !slices.Contains(ids, id) {
			added = append(added, id)
		}
	}
	if want := []string{"file:/etc/passwd", "tree:/"}; !slices.Equal(added, want) {
		t.Fatalf("prunes %v, want %v", added, want)
	}
	res := n.converge(g)
	if r := res["file:/etc/passwd"]; r.Action != steps.NoOp || !strings.Contains(r.Reason, steps.NotNodeups) {
		t.Errorf("the prune of /etc/passwd: %+v", r)
	}
	if !n.Exists("/etc/passwd") || !n.Exists(kept) || !n.Exists("/srv/x") {
		t.Error("a prune removed what it must not")
	}
	if _, err := os.Stat(n.Real("/usr/local/bin/containerd")); err != nil {
		t.Error(err)
	}
}
