package converge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/plan"
)

// release is a profile whose artifacts are built by the test and served
// by its mirror. Tests change a field and write the profile again.
type release struct {
	t          *testing.T
	m          *mirror
	dir        string
	sandbox    string
	flags      []string
	containerd string // the containerd binary's content
	runc       string
	kubelet    string
}

const releases = "https://releases.example/"

func newRelease(t *testing.T) *release {
	return &release{
		t: t, m: newMirror(t), dir: t.TempDir(),
		sandbox:    "registry.k8s.io/pause:3.10",
		flags:      []string{"--node-labels=role=worker"},
		containerd: "containerd 2.3.4",
		runc:       "runc 1.4.3",
		kubelet:    "kubelet 1.34.11",
	}
}

// put serves an artifact and returns the url and sha256 lines of its block.
func (r *release) put(name string, content []byte) string {
	return fmt.Sprintf("url = %q\n  sha256 = %q", releases+name, r.m.put(releases+name, content))
}

// graph writes the profile and builds its graph.
func (r *release) graph() *graph.Graph {
	t := r.t
	t.Helper()
	containerd := tarGz(t, reg("bin/containerd", r.containerd), reg("bin/containerd-shim-runc-v2", "shim"), reg("bin/ctr", "ctr"))
	cni := tarGz(t, reg("./loopback", cniScript), reg("./bridge", cniScript), reg("./portmap", cniScript))
	crictl := tarGz(t, reg("crictl", "crictl 1.36.0"))
	kata := tarZst(t, dirEntry("opt/kata/"), reg("opt/kata/bin/containerd-shim-kata-v2", "kata shim"),
		reg("opt/kata/share/defaults/kata-containers/configuration-qemu.toml", "[hypervisor.qemu]\n"))
	var flags []string
	for _, f := range r.flags {
		flags = append(flags, fmt.Sprintf("%q", f))
	}
	profile := fmt.Sprintf(`
mirror {
  urls     = [%q]
  upstream = false
}

node {
  cgroup_driver = "systemd"
  arch          = "amd64"
}

containerd {
  version       = "2.3.4"
  %s
  sandbox_image = %q
}

runc {
  version = "1.4.3"
  %s
}

cni {
  version = "1.9.1"
  %s
  plugins = ["loopback", "bridge"]
}

crictl {
  version = "1.36.0"
  %s
}

kata {
  version = "3.32.0"
  %s
}

runtime "runc" {
  type    = "runc"
  default = true
}

runtime "kata-qemu" {
  type = "kata"
}

kubelet {
  version = "1.34.11"
  %s
  start   = true
  flags   = [%s]
}

verify {
  timeout = "5s"
}
`, r.m.srv.URL, r.put("containerd-2.3.4-linux-amd64.tar.gz", containerd), r.sandbox,
		r.put("runc.amd64", []byte(r.runc)),
		r.put("cni-plugins-linux-amd64-v1.9.1.tgz", cni),
		r.put("crictl-v1.36.0-linux-amd64.tar.gz", crictl),
		r.put("kata-static-3.32.0-amd64.tar.zst", kata),
		r.put("kubelet", []byte(r.kubelet)), strings.Join(flags, ", "))
	path := filepath.Join(r.dir, "profile.hcl")
	if err := os.WriteFile(path, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, diags := plan.Load(path, plan.Options{HostArch: "amd64"})
	if diags.HasErrors() {
		t.Fatalf("profile: %s\n%s", diags.Error(), profile)
	}
	g, err := plan.Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// graphNode is a node with systemd, a kernel and a CRI runtime, all fake.
type graphNode struct {
	*node
	fake   *systemd.Fake
	kernel *fakeKernel
	report *cri.Report
}

func newGraphNode(t *testing.T) *graphNode {
	n := &graphNode{node: newNode(t)}
	n.fake = n.online()
	n.kernel = newKernel(t)
	n.env.Kernel = n.kernel.Kernel
	dials := 0
	n.env.Dial = dialTo(serveCRI(t, "runc", "kata-qemu"), &dials)
	n.env.Verified = func(r cri.Report) { n.report = &r }
	return n
}

// run runs the graph and returns the results by step ID. Afterwards the
// fake's calls are those of this run only.
func (n *graphNode) run(g *graph.Graph, apply bool) map[string]Result {
	n.t.Helper()
	n.fake.Reset()
	results := Run(context.Background(), g, n.env, apply, 4)
	if len(results) != g.Len() {
		n.t.Errorf("%d results for %d steps", len(results), g.Len())
	}
	out := map[string]Result{}
	for _, r := range results {
		out[r.ID] = r
	}
	return out
}

// converge applies the graph and fails on any failed step.
func (n *graphNode) converge(g *graph.Graph) map[string]Result {
	n.t.Helper()
	res := n.run(g, true)
	for _, r := range res {
		if r.Err != nil {
			n.t.Errorf("%s: %v", r.ID, r.Err)
		}
	}
	n.settle("containerd.service", "kubelet.service")
	return res
}

func changedIDs(res map[string]Result) []string {
	var out []string
	for id, r := range res {
		if r.Err == nil && r.Changed() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func TestRunConvergesAProfile(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)

	// The plan changes nothing and calls nothing.
	before := snapshot(t, n.root)
	planned := n.run(g, false)
	sameSnapshot(t, "plan", before, snapshot(t, n.root))
	if calls := n.fake.Calls(); len(calls) != 0 || len(n.kernel.loads()) != 0 || r.m.requests() != 0 {
		t.Errorf("the plan called %q, loaded %q, downloaded %d", calls, n.kernel.loads(), r.m.requests())
	}
	for id, res := range planned {
		switch {
		case res.Err != nil:
			t.Errorf("plan: %s: %v", id, res.Err)
		case id == plan.VerifyID:
			if res.Outcome != Skip {
				t.Errorf("plan: %s: %+v", id, res.Change)
			}
		case strings.HasPrefix(id, "sysctl:net.bridge."):
			// They appear only once br_netfilter is loaded, which a plan
			// does not do.
			if res.Outcome != NoOp || res.Reason != "not in this kernel" {
				t.Errorf("plan: %s: %+v", id, res.Change)
			}
		case !res.Changed():
			t.Errorf("plan: %s would not change a fresh node: %+v", id, res.Change)
		}
	}
	if len(n.warns) != 0 {
		t.Errorf("the plan warned: %q", n.warns)
	}
	if res := planned[plan.ContainerdUnitID]; res.Reason != "daemon-reload, enable, start (is inactive)" {
		t.Errorf("plan: containerd unit: %q", res.Reason)
	}
	if res := planned["file:/etc/containerd/config.toml"]; !strings.Contains(res.Diff, `+      sandbox = 'registry.k8s.io/pause:3.10'`) {
		t.Errorf("plan: config.toml diff:\n%s", res.Diff)
	}

	// The first apply changes every step but verify, which passes.
	first := n.converge(g)
	for id, res := range first {
		if id != plan.VerifyID && !res.Changed() {
			t.Errorf("apply: %s: %+v", id, res.Change)
		}
		if res.Source == "" || !strings.HasPrefix(res.Source, filepath.Join(r.dir, "profile.hcl")+":") {
			t.Errorf("%s: source %q", id, res.Source)
		}
	}
	if res := first[plan.VerifyID]; res.Outcome != NoOp || n.report == nil || !n.report.OK() {
		t.Errorf("verify: %+v %+v", res, n.report)
	}
	for _, want := range []struct {
		op, unit string
		n        int
	}{
		{"enable", "containerd.service", 1}, {"start", "containerd.service", 1}, {"restart", "containerd.service", 0},
		{"enable", "kubelet.service", 1}, {"start", "kubelet.service", 1}, {"restart", "kubelet.service", 0},
	} {
		if got := n.fake.Count(want.op, want.unit); got != want.n {
			t.Errorf("%s %s: %d times, want %d; calls %q", want.op, want.unit, got, want.n, n.fake.Calls())
		}
	}
	if n.fake.Count("daemon-reload", "") == 0 {
		t.Errorf("unit files written without a daemon-reload: %q", n.fake.Calls())
	}
	for p, want := range map[string]string{
		"/usr/local/bin/containerd": "containerd 2.3.4", "/usr/local/sbin/runc": "runc 1.4.3", "/usr/local/bin/kubelet": "kubelet 1.34.11",
		"/usr/local/bin/crictl": "crictl 1.36.0", "/opt/cni/bin/bridge": cniScript, "/opt/kata/bin/containerd-shim-kata-v2": "kata shim",
	} {
		if got := n.read(p); got != want {
			t.Errorf("%s: %q", p, got)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(n.kernel.ProcSys, "net/ipv4/ip_forward")); string(b) != "1" {
		t.Errorf("ip_forward %q", b)
	}
	if loads := n.kernel.loads(); len(loads) != 2 {
		t.Errorf("modprobe ran for %q", loads)
	}
	if !strings.Contains(n.read("/etc/containerd/config.toml"), "SystemdCgroup = true") {
		t.Errorf("config.toml:\n%s", n.read("/etc/containerd/config.toml"))
	}

	if len(n.warns) != 0 {
		t.Errorf("the apply warned: %q", n.warns)
	}

	// The second apply: every step no-op, nothing touched.
	applied := snapshot(t, n.root)
	downloads := r.m.requests()
	second := n.converge(g)
	if changed := changedIDs(second); len(changed) != 0 {
		t.Errorf("second apply changed %q", changed)
	}
	for id, res := range second {
		if res.Outcome != NoOp {
			t.Errorf("second apply: %s: %+v", id, res.Change)
		}
	}
	if calls := n.fake.Calls(); len(calls) != 0 {
		t.Errorf("second apply called systemd: %q", calls)
	}
	sameSnapshot(t, "second apply", applied, snapshot(t, n.root))
	if r.m.requests() != downloads || len(n.kernel.loads()) != 2 {
		t.Errorf("second apply downloaded %d, loaded %q", r.m.requests()-downloads, n.kernel.loads())
	}
}

// A unit is restarted only when its config, unit file or binary changed in
// the run; daemon-reload only when a unit file did.
func TestRunRestartsOnlyWhatChanged(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	n.converge(r.graph())

	for _, tc := range []struct {
		name   string
		change func()
		// restarts of containerd and kubelet, daemon-reloads
		containerd, kubelet, reloads int
		changed                      []string
	}{
		{"containerd config", func() { r.sandbox = "registry.internal/pause:3.10" }, 1, 0, 0,
			[]string{"file:/etc/containerd/config.toml", plan.ContainerdUnitID}},
		{"kubelet drop-in", func() { r.flags = append(r.flags, "--v=4") }, 0, 1, 1,
			[]string{"file:/etc/systemd/system/kubelet.service.d/10-nodeup.conf", plan.KubeletUnitID}},
		{"kubelet binary", func() { r.kubelet = "kubelet 1.34.11 rebuilt" }, 0, 1, 0,
			[]string{"artifact:kubelet", plan.KubeletUnitID}},
		{"containerd binary", func() { r.containerd = "containerd 2.3.4 rebuilt" }, 1, 0, 0,
			[]string{"artifact:containerd", plan.ContainerdUnitID}},
		{"runc binary: read per container, nothing to restart", func() { r.runc = "runc 1.4.3 rebuilt" }, 0, 0, 0,
			[]string{"artifact:runc"}},
		{"containerd.service edited by hand", func() { n.write("/etc/systemd/system/containerd.service", "[Service]\nExecStart=/bin/true\n", 0o644) }, 1, 0, 1,
			[]string{"file:/etc/systemd/system/containerd.service", plan.ContainerdUnitID}},
		{"nothing", func() {}, 0, 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			res := n.converge(r.graph())
			if got := changedIDs(res); !slices.Equal(got, tc.changed) {
				t.Errorf("changed %q, want %q", got, tc.changed)
			}
			f := n.fake
			if f.Count("restart", "containerd.service") != tc.containerd || f.Count("restart", "kubelet.service") != tc.kubelet || f.Count("daemon-reload", "") != tc.reloads {
				t.Errorf("calls %q; want %d containerd restarts, %d kubelet restarts, %d daemon-reloads", f.Calls(), tc.containerd, tc.kubelet, tc.reloads)
			}
			if f.Count("start", "containerd.service")+f.Count("start", "kubelet.service")+f.Count("enable", "containerd.service")+f.Count("enable", "kubelet.service") != 0 {
				t.Errorf("calls %q", f.Calls())
			}
		})
	}
	if !n.exists("/var/lib/nodeup/backup/etc/systemd/system/containerd.service") {
		t.Errorf("the hand-edited unit file was not backed up")
	}
}

func skippedBy(t *testing.T, res map[string]Result, id, cause string) {
	t.Helper()
	var skipped *graph.SkippedError
	if r := res[id]; !errors.As(r.Err, &skipped) || skipped.Cause != cause {
		t.Errorf("%s: %v (%+v), want skipped because %s failed", id, r.Err, r.Change, cause)
	}
}

func TestRunMaskedUnit(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	n.fake.Unit("containerd.service").FileState = "masked"
	res := n.run(r.graph(), true)

	err := res[plan.ContainerdUnitID].Err
	if !errors.Is(err, ErrMasked) || !strings.Contains(err.Error(), "systemctl unmask containerd.service") {
		t.Errorf("masked containerd: %v", err)
	}
	skippedBy(t, res, plan.VerifyID, plan.ContainerdUnitID)
	skippedBy(t, res, plan.KubeletUnitID, plan.ContainerdUnitID)
	if r := res["file:/etc/containerd/config.toml"]; r.Err != nil || r.Outcome != Create {
		t.Errorf("config.toml: %+v %v", r.Change, r.Err)
	}
	if n.fake.Count("start", "containerd.service") != 0 || n.fake.Count("enable", "containerd.service") != 0 {
		t.Errorf("a masked unit was touched: %q", n.fake.Calls())
	}
}

// A unit that fails to start carries its journal; steps that do not
// depend on it still run and are reported.
func TestRunUnitFailsToStart(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	fu := n.fake.Unit("containerd.service")
	fu.AfterStart = "failed"
	fu.Journal = "containerd[812]: failed to load plugin io.containerd.grpc.v1.cri: invalid sandbox image"
	res := n.run(r.graph(), true)

	err := res[plan.ContainerdUnitID].Err
	var ue *systemd.UnitError
	if !errors.As(err, &ue) || ue.Op != "start" || !strings.Contains(err.Error(), fu.Journal) {
		t.Errorf("containerd: %v", err)
	}
	skippedBy(t, res, plan.VerifyID, plan.ContainerdUnitID)
	skippedBy(t, res, plan.KubeletUnitID, plan.ContainerdUnitID)
	for _, id := range []string{"artifact:crictl", "file:/etc/crictl.yaml", "sysctl:net.ipv4.ip_forward", "artifact:kubelet", "file:/var/lib/kubelet/config.yaml"} {
		if r := res[id]; r.Err != nil || !r.Changed() {
			t.Errorf("%s, independent of containerd: %+v %v", id, r.Change, r.Err)
		}
	}
	if n.report != nil {
		t.Errorf("verified a runtime that did not start")
	}

	// Fixed: the next run starts it and finishes the rest.
	fu.AfterStart = ""
	res = n.converge(r.graph())
	if got := changedIDs(res); !slices.Equal(got, []string{plan.ContainerdUnitID, plan.KubeletUnitID}) {
		t.Errorf("after the fix changed %q", got)
	}
}

func TestRunFailedStepSkipsDependents(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	// The mirror serves other bytes than the profile pins.
	r.m.put(releases+"runc.amd64", []byte("tampered"))
	res := n.run(g, true)

	err := res["artifact:runc"].Err
	if !errors.Is(err, fetch.ErrChecksum) || !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), r.m.srv.URL+"/releases.example/runc.amd64") {
		t.Errorf("runc: %v", err)
	}
	if !strings.HasSuffix(res["artifact:runc"].Source, "profile.hcl:19") {
		t.Errorf("runc source %q", res["artifact:runc"].Source)
	}
	skippedBy(t, res, plan.ContainerdUnitID, "artifact:runc")
	skippedBy(t, res, plan.VerifyID, "artifact:runc")
	skippedBy(t, res, plan.KubeletUnitID, "artifact:runc") // through the containerd unit
	if n.exists("/usr/local/sbin/runc") {
		t.Errorf("runc installed despite the mismatch")
	}
	failed := 0
	for id, r := range res {
		if r.Err == nil {
			if !r.Changed() {
				t.Errorf("%s: %+v", id, r.Change)
			}
			continue
		}
		failed++
	}
	if failed != 4 {
		t.Errorf("%d steps failed or skipped, want 4", failed)
	}
	if n.fake.Count("start", "containerd.service") != 0 {
		t.Errorf("containerd started without runc")
	}
}

// A file nodeup did not write is backed up before it is replaced; the
// plan says so and shows the diff.
func TestRunBacksUpForeignFiles(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.write("/etc/crictl.yaml", "runtime-endpoint: unix:///var/run/dockershim.sock\n", 0o644)

	planned := n.run(g, false)
	res := planned["file:/etc/crictl.yaml"]
	if res.Outcome != Update || !strings.Contains(res.Reason, "backed up under /var/lib/nodeup/backup") ||
		!strings.Contains(res.Diff, "\n-runtime-endpoint: unix:///var/run/dockershim.sock\n") || !strings.Contains(res.Diff, "\n+runtime-endpoint: unix:///run/containerd/containerd.sock\n") {
		t.Errorf("plan: %+v", res.Change)
	}
	if n.exists(host.BackupDir) {
		t.Errorf("the plan made a backup")
	}
	n.converge(g)
	if got := n.read("/var/lib/nodeup/backup/etc/crictl.yaml"); got != "runtime-endpoint: unix:///var/run/dockershim.sock\n" {
		t.Errorf("backup %q", got)
	}
	n.converge(g)
	if entries, _ := os.ReadDir(n.real("/var/lib/nodeup/backup/etc")); len(entries) != 1 {
		t.Errorf("backups after the second run: %v", entries)
	}
}

// The bake phase installs, writes and enables; it starts, loads and
// verifies nothing. The boot phase then starts what bake enabled.
func TestRunBakeThenBoot(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.env.Phase = PhaseBake
	res := n.converge(g)
	for _, id := range []string{plan.VerifyID, "module:overlay", "sysctl:net.ipv4.ip_forward"} {
		if res[id].Outcome != Skip {
			t.Errorf("bake: %s: %+v", id, res[id].Change)
		}
	}
	if n.fake.Count("start", "containerd.service") != 0 || n.fake.Count("enable", "containerd.service") != 1 || n.report != nil || len(n.kernel.loads()) != 0 {
		t.Errorf("bake: calls %q, loads %q", n.fake.Calls(), n.kernel.loads())
	}

	n.env.Phase = PhaseBoot
	res = n.converge(g)
	want := []string{"module:br_netfilter", "module:overlay", "sysctl:net.bridge.bridge-nf-call-ip6tables", "sysctl:net.bridge.bridge-nf-call-iptables",
		"sysctl:net.ipv4.ip_forward", plan.ContainerdUnitID, plan.KubeletUnitID}
	if got := changedIDs(res); !slices.Equal(got, want) {
		t.Errorf("boot changed %q, want %q", got, want)
	}
	if calls := n.fake.Calls(); !slices.Equal(calls, []string{"start containerd.service", "start kubelet.service"}) {
		t.Errorf("boot calls %q", calls)
	}
	if n.report == nil || !n.report.OK() {
		t.Errorf("boot did not verify: %+v", n.report)
	}
}
