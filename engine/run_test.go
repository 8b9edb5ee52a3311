package engine

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
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// release is a profile whose artifacts are built by the test and served
// by its mirror. Tests change a field and write the profile again.
type release struct {
	t          *testing.T
	m          *stepstest.Mirror
	dir        string
	sandbox    string
	flags      []string
	containerd string // the containerd binary's content
	version    string // containerd's version
	runc       string
	kubelet    string
	plugins    string // the cni block's plugins line
	// containerdExtra and nodeExtra go at the end of those blocks
	// (registries, kernel modules), each line starting with a newline;
	// without names blocks left out: crictl, kata (with its runtime),
	// kubelet.
	containerdExtra, nodeExtra string
	// kubeletExtra goes at the end of the kubelet block, as the others.
	kubeletExtra string
	without      map[string]bool
}

const releases = "https://releases.example/"

func newRelease(t *testing.T) *release {
	return &release{
		t: t, m: stepstest.NewMirror(t), dir: t.TempDir(),
		sandbox:    "registry.k8s.io/pause:3.10",
		flags:      []string{"--node-labels=role=worker"},
		containerd: "containerd 2.3.4",
		version:    "2.3.4",
		runc:       "runc 1.4.3",
		kubelet:    "kubelet 1.34.11",
		plugins:    `plugins = ["loopback", "bridge"]`,
		without:    map[string]bool{},
	}
}

// put serves an artifact and returns the url and sha256 lines of its block.
func (r *release) Put(name string, content []byte) string {
	return fmt.Sprintf("url = %q\n  sha256 = %q", releases+name, r.m.Put(releases+name, content))
}

// graph writes the profile and builds its graph.
func (r *release) graph() *graph.Graph {
	t := r.t
	t.Helper()
	containerd := stepstest.TarGz(t, stepstest.Reg("bin/containerd", r.containerd), stepstest.Reg("bin/containerd-shim-runc-v2", "shim"), stepstest.Reg("bin/ctr", "ctr"))
	cni := stepstest.TarGz(t, stepstest.Reg("./loopback", stepstest.CNIScript), stepstest.Reg("./bridge", stepstest.CNIScript), stepstest.Reg("./portmap", stepstest.CNIScript))
	crictl := stepstest.TarGz(t, stepstest.Reg("crictl", "crictl 1.36.0"))
	kata := stepstest.TarZst(t, stepstest.DirEntry("opt/kata/"), stepstest.Reg("opt/kata/bin/containerd-shim-kata-v2", "kata shim"),
		stepstest.Reg("opt/kata/share/defaults/kata-containers/configuration-qemu.toml", "[hypervisor.qemu]\n"))
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
  arch          = "amd64"%s
}

containerd {
  version       = %q
  %s
  sandbox_image = %q%s
}

runc {
  version = "1.4.3"
  %s
}

cni {
  version = "1.9.1"
  %s
  %s
}

%s

%s

runtime "runc" {
  type    = "runc"
  default = true
}

%s

verify {
  timeout = "5s"
}
`, r.m.URL, r.nodeExtra, r.version, r.Put("containerd-"+r.version+"-linux-amd64.tar.gz", containerd), r.sandbox, r.containerdExtra,
		r.Put("runc.amd64", []byte(r.runc)),
		r.Put("cni-plugins-linux-amd64-v1.9.1.tgz", cni), r.plugins,
		r.block("crictl", fmt.Sprintf("crictl {\n  version = \"1.36.0\"\n  %s\n}", r.Put("crictl-v1.36.0-linux-amd64.tar.gz", crictl))),
		r.block("kata", fmt.Sprintf("kata {\n  version = \"3.32.0\"\n  %s\n}\n\nruntime \"kata-qemu\" {\n  type = \"kata\"\n}", r.Put("kata-static-3.32.0-amd64.tar.zst", kata))),
		r.block("kubelet", fmt.Sprintf("kubelet {\n  version = \"1.34.11\"\n  %s\n  start   = true\n  flags   = [%s]%s\n}", r.Put("kubelet", []byte(r.kubelet)), strings.Join(flags, ", "), r.kubeletExtra)))
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

// block is a block of the profile, or nothing when the test leaves it out.
func (r *release) block(name, text string) string {
	if r.without[name] {
		return ""
	}
	return text
}

// graphNode is a node with systemd, a kernel and a CRI runtime, all fake.
type graphNode struct {
	*stepstest.Node
	kernel *stepstest.FakeKernel
	report *cri.Report
}

func newGraphNode(t *testing.T) *graphNode {
	n := &graphNode{Node: stepstest.NewNode(t)}
	n.Fake = n.Online()
	n.kernel = stepstest.NewKernel(t)
	n.Env.Kernel = n.kernel.Kernel
	dials := 0
	n.Env.Dial = stepstest.DialTo(stepstest.ServeCRI(t, "runc", "kata-qemu"), &dials)
	n.Env.Verified = func(r cri.Report) { n.report = &r }
	return n
}

// run runs the graph and returns the results by step ID. Afterwards the
// fake's calls are those of this run only.
func (n *graphNode) run(g *graph.Graph, apply bool) map[string]Result {
	n.T.Helper()
	n.Fake.Reset()
	results := Run(context.Background(), g, n.Env, Options{Apply: apply, Parallelism: 4})
	if len(results) != g.Len() {
		n.T.Errorf("%d results for %d steps", len(results), g.Len())
	}
	out := map[string]Result{}
	for _, r := range results {
		out[r.ID] = r
	}
	return out
}

// converge applies the graph and fails on any failed step.
func (n *graphNode) converge(g *graph.Graph) map[string]Result {
	n.T.Helper()
	res := n.run(g, true)
	for _, r := range res {
		if r.Err != nil {
			n.T.Errorf("%s: %v", r.ID, r.Err)
		}
	}
	n.Settle("containerd.service", "kubelet.service")
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
	before := stepstest.Snapshot(t, n.Root)
	planned := n.run(g, false)
	stepstest.SameSnapshot(t, "plan", before, stepstest.Snapshot(t, n.Root))
	if calls := n.Fake.Calls(); len(calls) != 0 || len(n.kernel.Loads()) != 0 || r.m.Requests() != 0 {
		t.Errorf("the plan called %q, loaded %q, downloaded %d", calls, n.kernel.Loads(), r.m.Requests())
	}
	for id, res := range planned {
		switch {
		case res.Err != nil:
			t.Errorf("plan: %s: %v", id, res.Err)
		case id == steps.VerifyID:
			if res.Action != steps.Skip {
				t.Errorf("plan: %s: %+v", id, res.Change)
			}
		case strings.HasPrefix(id, "sysctl:net.bridge."):
			// They appear only once br_netfilter is loaded, which a plan
			// does not do.
			if res.Action != steps.NoOp || res.Reason != "not in this kernel" {
				t.Errorf("plan: %s: %+v", id, res.Change)
			}
		case !res.Changed():
			t.Errorf("plan: %s would not change a fresh node: %+v", id, res.Change)
		}
	}
	if len(n.Warns) != 0 {
		t.Errorf("the plan warned: %q", n.Warns)
	}
	if res := planned[steps.UnitID(paths.ContainerdService)]; res.Reason != "daemon-reload, enable, start (is inactive)" {
		t.Errorf("plan: containerd unit: %q", res.Reason)
	}
	if res := planned["file:/etc/containerd/config.toml"]; !strings.Contains(res.Diff, `+      sandbox = 'registry.k8s.io/pause:3.10'`) {
		t.Errorf("plan: config.toml diff:\n%s", res.Diff)
	}

	// The first apply changes every step but verify, which passes.
	first := n.converge(g)
	for id, res := range first {
		if id != steps.VerifyID && !res.Changed() {
			t.Errorf("apply: %s: %+v", id, res.Change)
		}
		if res.Source == "" || !strings.HasPrefix(res.Source, filepath.Join(r.dir, "profile.hcl")+":") {
			t.Errorf("%s: source %q", id, res.Source)
		}
	}
	if res := first[steps.VerifyID]; res.Action != steps.NoOp || n.report == nil || !n.report.OK() {
		t.Errorf("verify: %+v %+v", res, n.report)
	}
	for _, want := range []struct {
		op, unit string
		n        int
	}{
		{"enable", "containerd.service", 1}, {"start", "containerd.service", 1}, {"restart", "containerd.service", 0},
		{"enable", "kubelet.service", 1}, {"start", "kubelet.service", 1}, {"restart", "kubelet.service", 0},
	} {
		if got := n.Fake.Count(want.op, want.unit); got != want.n {
			t.Errorf("%s %s: %d times, want %d; calls %q", want.op, want.unit, got, want.n, n.Fake.Calls())
		}
	}
	if n.Fake.Count("daemon-reload", "") == 0 {
		t.Errorf("unit files written without a daemon-reload: %q", n.Fake.Calls())
	}
	for p, want := range map[string]string{
		"/usr/local/bin/containerd": "containerd 2.3.4", "/usr/local/sbin/runc": "runc 1.4.3", "/usr/local/bin/kubelet": "kubelet 1.34.11",
		"/usr/local/bin/crictl": "crictl 1.36.0", "/opt/cni/bin/bridge": stepstest.CNIScript, "/opt/kata/bin/containerd-shim-kata-v2": "kata shim",
	} {
		if got := n.Read(p); got != want {
			t.Errorf("%s: %q", p, got)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(n.kernel.ProcSys, "net/ipv4/ip_forward")); string(b) != "1" {
		t.Errorf("ip_forward %q", b)
	}
	if loads := n.kernel.Loads(); len(loads) != 2 {
		t.Errorf("modprobe ran for %q", loads)
	}
	if !strings.Contains(n.Read("/etc/containerd/config.toml"), "SystemdCgroup = true") {
		t.Errorf("config.toml:\n%s", n.Read("/etc/containerd/config.toml"))
	}

	if len(n.Warns) != 0 {
		t.Errorf("the apply warned: %q", n.Warns)
	}

	// The second apply: every step no-op, nothing touched.
	applied := stepstest.Snapshot(t, n.Root)
	downloads := r.m.Requests()
	second := n.converge(g)
	if changed := changedIDs(second); len(changed) != 0 {
		t.Errorf("second apply changed %q", changed)
	}
	for id, res := range second {
		if res.Action != steps.NoOp {
			t.Errorf("second apply: %s: %+v", id, res.Change)
		}
	}
	if calls := n.Fake.Calls(); len(calls) != 0 {
		t.Errorf("second apply called systemd: %q", calls)
	}
	stepstest.SameSnapshot(t, "second apply", applied, stepstest.Snapshot(t, n.Root))
	if r.m.Requests() != downloads || len(n.kernel.Loads()) != 2 {
		t.Errorf("second apply downloaded %d, loaded %q", r.m.Requests()-downloads, n.kernel.Loads())
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
			[]string{"file:/etc/containerd/config.toml", steps.UnitID(paths.ContainerdService)}},
		{"kubelet drop-in", func() { r.flags = append(r.flags, "--v=4") }, 0, 1, 1,
			[]string{"file:/etc/systemd/system/kubelet.service.d/10-nodeup.conf", steps.UnitID(paths.KubeletService)}},
		{"kubelet binary", func() { r.kubelet = "kubelet 1.34.11 rebuilt" }, 0, 1, 0,
			[]string{"artifact:kubelet", steps.UnitID(paths.KubeletService)}},
		{"containerd binary", func() { r.containerd = "containerd 2.3.4 rebuilt" }, 1, 0, 0,
			[]string{"artifact:containerd", steps.UnitID(paths.ContainerdService)}},
		{"runc binary: read per container, nothing to restart", func() { r.runc = "runc 1.4.3 rebuilt" }, 0, 0, 0,
			[]string{"artifact:runc"}},
		{"containerd.service edited by hand", func() { n.Write("/etc/systemd/system/containerd.service", "[Service]\nExecStart=/bin/true\n", 0o644) }, 1, 0, 1,
			[]string{"file:/etc/systemd/system/containerd.service", steps.UnitID(paths.ContainerdService)}},
		{"nothing", func() {}, 0, 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			res := n.converge(r.graph())
			if got := changedIDs(res); !slices.Equal(got, tc.changed) {
				t.Errorf("changed %q, want %q", got, tc.changed)
			}
			f := n.Fake
			if f.Count("restart", "containerd.service") != tc.containerd || f.Count("restart", "kubelet.service") != tc.kubelet || f.Count("daemon-reload", "") != tc.reloads {
				t.Errorf("calls %q; want %d containerd restarts, %d kubelet restarts, %d daemon-reloads", f.Calls(), tc.containerd, tc.kubelet, tc.reloads)
			}
			if f.Count("start", "containerd.service")+f.Count("start", "kubelet.service")+f.Count("enable", "containerd.service")+f.Count("enable", "kubelet.service") != 0 {
				t.Errorf("calls %q", f.Calls())
			}
		})
	}
	if !n.Exists("/var/lib/nodeup/backup/etc/systemd/system/containerd.service") {
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
	n.Fake.Unit("containerd.service").FileState = "masked"
	res := n.run(r.graph(), true)

	err := res[steps.UnitID(paths.ContainerdService)].Err
	if !errors.Is(err, steps.ErrMasked) || !strings.Contains(err.Error(), "systemctl unmask containerd.service") {
		t.Errorf("masked containerd: %v", err)
	}
	skippedBy(t, res, steps.VerifyID, steps.UnitID(paths.ContainerdService))
	skippedBy(t, res, steps.UnitID(paths.KubeletService), steps.UnitID(paths.ContainerdService))
	if r := res["file:/etc/containerd/config.toml"]; r.Err != nil || r.Action != steps.Create {
		t.Errorf("config.toml: %+v %v", r.Change, r.Err)
	}
	if n.Fake.Count("start", "containerd.service") != 0 || n.Fake.Count("enable", "containerd.service") != 0 {
		t.Errorf("a masked unit was touched: %q", n.Fake.Calls())
	}
}

// A unit that fails to start carries its journal; steps that do not
// depend on it still run and are reported.
func TestRunUnitFailsToStart(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	fu := n.Fake.Unit("containerd.service")
	fu.AfterStart = "failed"
	fu.Journal = "containerd[812]: failed to load plugin io.containerd.grpc.v1.cri: invalid sandbox image"
	res := n.run(r.graph(), true)

	err := res[steps.UnitID(paths.ContainerdService)].Err
	var ue *systemd.UnitError
	if !errors.As(err, &ue) || ue.Op != "start" || !strings.Contains(err.Error(), fu.Journal) {
		t.Errorf("containerd: %v", err)
	}
	skippedBy(t, res, steps.VerifyID, steps.UnitID(paths.ContainerdService))
	skippedBy(t, res, steps.UnitID(paths.KubeletService), steps.UnitID(paths.ContainerdService))
	for _, id := range []string{"artifact:crictl", "file:/etc/crictl.yaml", "sysctl:net.ipv4.ip_forward", "artifact:kubelet", "file:" + paths.KubeletConfigDropIn} {
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
	if got := changedIDs(res); !slices.Equal(got, []string{steps.UnitID(paths.ContainerdService), steps.UnitID(paths.KubeletService)}) {
		t.Errorf("after the fix changed %q", got)
	}
}

func TestRunFailedStepSkipsDependents(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	// The mirror serves other bytes than the profile pins.
	r.m.Put(releases+"runc.amd64", []byte("tampered"))
	res := n.run(g, true)

	err := res["artifact:runc"].Err
	if !errors.Is(err, fetch.ErrChecksum) || !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), r.m.URL+"/releases.example/runc.amd64") {
		t.Errorf("runc: %v", err)
	}
	if !strings.HasSuffix(res["artifact:runc"].Source, "profile.hcl:19") {
		t.Errorf("runc source %q", res["artifact:runc"].Source)
	}
	skippedBy(t, res, steps.UnitID(paths.ContainerdService), "artifact:runc")
	skippedBy(t, res, steps.VerifyID, "artifact:runc")
	skippedBy(t, res, steps.UnitID(paths.KubeletService), "artifact:runc") // through the containerd unit
	if n.Exists("/usr/local/sbin/runc") {
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
	if n.Fake.Count("start", "containerd.service") != 0 {
		t.Errorf("containerd started without runc")
	}
}

// A file nodeup did not write is backed up before it is replaced; the
// plan says so and shows the diff.
func TestRunBacksUpForeignFiles(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.Write("/etc/crictl.yaml", "runtime-endpoint: unix:///var/run/dockershim.sock\n", 0o644)

	planned := n.run(g, false)
	res := planned["file:/etc/crictl.yaml"]
	if res.Action != steps.Update || !strings.Contains(res.Reason, "backed up under /var/lib/nodeup/backup") ||
		!strings.Contains(res.Diff, "\n-runtime-endpoint: unix:///var/run/dockershim.sock\n") || !strings.Contains(res.Diff, "\n+runtime-endpoint: unix:///run/containerd/containerd.sock\n") {
		t.Errorf("plan: %+v", res.Change)
	}
	if n.Exists(paths.BackupDir) {
		t.Errorf("the plan made a backup")
	}
	n.converge(g)
	if got := n.Read("/var/lib/nodeup/backup/etc/crictl.yaml"); got != "runtime-endpoint: unix:///var/run/dockershim.sock\n" {
		t.Errorf("backup %q", got)
	}
	n.converge(g)
	if entries, _ := os.ReadDir(n.Real("/var/lib/nodeup/backup/etc")); len(entries) != 1 {
		t.Errorf("backups after the second run: %v", entries)
	}
}

// The bake phase installs, writes and enables; it starts, loads and
// verifies nothing. The boot phase then starts what bake enabled.
func TestRunBakeThenBoot(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.Env.Phase = steps.PhaseBake
	res := n.converge(g)
	for _, id := range []string{steps.VerifyID, "module:overlay", "sysctl:net.ipv4.ip_forward"} {
		if res[id].Action != steps.Skip {
			t.Errorf("bake: %s: %+v", id, res[id].Change)
		}
	}
	if n.Fake.Count("start", "containerd.service") != 0 || n.Fake.Count("enable", "containerd.service") != 1 || n.report != nil || len(n.kernel.Loads()) != 0 {
		t.Errorf("bake: calls %q, loads %q", n.Fake.Calls(), n.kernel.Loads())
	}

	n.Env.Phase = steps.PhaseBoot
	res = n.converge(g)
	want := []string{"module:br_netfilter", "module:overlay", "sysctl:net.bridge.bridge-nf-call-ip6tables", "sysctl:net.bridge.bridge-nf-call-iptables",
		"sysctl:net.ipv4.ip_forward", steps.UnitID(paths.ContainerdService), steps.UnitID(paths.KubeletService)}
	if got := changedIDs(res); !slices.Equal(got, want) {
		t.Errorf("boot changed %q, want %q", got, want)
	}
	if calls := n.Fake.Calls(); !slices.Equal(calls, []string{"start containerd.service", "start kubelet.service"}) {
		t.Errorf("boot calls %q", calls)
	}
	if n.report == nil || !n.report.OK() {
		t.Errorf("boot did not verify: %+v", n.report)
	}
}

// Without a plugins list, the CNI step installs every executable of the
// release; the second run finds them through the state and changes
// nothing.
func TestRunCNIWithoutPluginList(t *testing.T) {
	r := newRelease(t)
	r.plugins = ""
	g := r.graph()
	n := newGraphNode(t)
	n.converge(g)
	for _, p := range []string{"/opt/cni/bin/loopback", "/opt/cni/bin/bridge", "/opt/cni/bin/portmap"} {
		if !n.Exists(p) {
			t.Errorf("%s not installed", p)
		}
	}
	if changed := changedIDs(n.run(g, true)); len(changed) != 0 {
		t.Errorf("second run changed %v", changed)
	}
	os.Remove(n.Real("/opt/cni/bin/portmap"))
	if res := n.run(g, false)["artifact:cni"]; res.Action != steps.Update || !strings.Contains(res.Reason, "/opt/cni/bin/portmap is missing") {
		t.Errorf("plan after a plugin was removed: %+v", res)
	}
}
