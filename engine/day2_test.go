package engine

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
	"github.com/nodeup/nodeup/templates"
)

// files describes the files under root (stepstest.Files).
func files(t *testing.T, root string) map[string]string { return stepstest.Files(t, root) }

func sameFiles(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if diffs := stepstest.DiffFiles(before, after); len(diffs) > 0 {
		t.Errorf("%s:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// withoutCache drops the download cache from a files description.
func withoutCache(m map[string]string) map[string]string {
	out := map[string]string{}
	for p, v := range m {
		if !strings.HasPrefix(p, "var/cache/nodeup") {
			out[p] = v
		}
	}
	return out
}

func actions(p *ResetPlan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Action+" "+s.Target)
	}
	return out
}

const distroConfig = "version = 2\n# the distribution's containerd config\n"

// A reset after an apply stops and disables the units, removes what the
// apply installed and wrote, and puts back the files it replaced (content,
// mode and owner) and the files it backed up in a tree; the node's files
// are then as before the apply, but for the download cache. A second reset
// finds nothing to do, and a plan afterwards has everything to do again.
func TestResetUndoesAnApply(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.Write("/etc/containerd/config.toml", distroConfig, 0o640)
	n.Write("/opt/kata/local/notes.txt", "an operator's notes\n", 0o600)
	// As on any node: nodeup's own directories go below these.
	for _, d := range []string{"/var/lib", "/var/cache"} {
		os.MkdirAll(n.Real(d), 0o755)
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{"/etc/containerd/config.toml", "/opt/kata/local/notes.txt"} {
			if err := os.Chown(n.Real(p), 1234, 2345); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := files(t, n.Root)
	n.converge(g)
	if !n.Exists("/var/lib/nodeup/backup/etc/containerd/config.toml") || !n.Exists("/var/lib/nodeup/backup/opt/kata/local/notes.txt") {
		t.Fatalf("the apply backed up nothing: %v", files(t, n.Real("/var/lib/nodeup")))
	}
	if err := n.Env.State.Save(n.Host); err != nil {
		t.Fatal(err)
	}

	n.Fake.Reset()
	p, err := PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := actions(p)
	for _, want := range []string{
		"stop kubelet.service", "stop containerd.service", "disable kubelet.service", "disable containerd.service",
		"remove /usr/local/bin/containerd", "remove /etc/systemd/system/containerd.service", "restore /etc/containerd/config.toml",
		"remove /opt/kata", "restore /opt/kata/local/notes.txt", "reload systemd", "remove /etc/systemd/system", "remove /var/lib/nodeup", "keep /var/cache/nodeup",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("the reset plan lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	// Kubelet runs on containerd: it stops first.
	if slices.Index(got, "stop kubelet.service") > slices.Index(got, "stop containerd.service") {
		t.Errorf("containerd stops before the kubelet:\n%s", strings.Join(got, "\n"))
	}
	if len(n.Fake.Calls()) != 0 {
		t.Errorf("planning the reset called systemd: %q", n.Fake.Calls())
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"stop kubelet.service", "stop containerd.service", "disable containerd.service", "disable kubelet.service", "daemon-reload"} {
		if n.Fake.Count(strings.Fields(call)[0], strings.TrimPrefix(call, strings.Fields(call)[0]+" ")) != 1 && !(call == "daemon-reload" && n.Fake.Count("daemon-reload", "") == 1) {
			t.Errorf("reset calls %q, want one %q", n.Fake.Calls(), call)
		}
	}
	if s := n.Fake.Unit("containerd.service"); s.ActiveState != "inactive" || s.FileState != "disabled" {
		t.Errorf("containerd after reset: %+v", s)
	}
	sameFiles(t, "the reset", before, withoutCache(files(t, n.Root)))
	for _, gone := range []string{"/var/lib/nodeup", "/usr/local/bin", "/etc/systemd", "/var/lib/kubelet"} {
		if n.Exists(gone) {
			t.Errorf("%s is left after the reset", gone)
		}
	}
	if !n.Exists(paths.CacheDir) {
		t.Errorf("the reset removed the download cache without --purge")
	}

	// A second reset has nothing to do but, asked to, purge the cache.
	again, err := PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil || again.Changes() != 0 {
		t.Errorf("second reset: %v %q", err, actions(again))
	}
	purge, err := PlanReset(context.Background(), n.Env, ResetOptions{Purge: true})
	if err != nil || !slices.Equal(actions(purge), []string{"remove " + paths.CacheDir}) {
		t.Errorf("reset --purge: %v %q", err, actions(purge))
	}
	if err := purge.Run(context.Background()); err != nil || n.Exists(paths.CacheDir) {
		t.Errorf("purge: %v", err)
	}

	// A plan on the reset node has every step to do again, but for the
	// directories that were there before the apply.
	n.Env.State = mustLoad(t, n)
	for id, res := range n.run(g, false) {
		switch {
		case res.Err != nil:
			t.Errorf("plan after reset: %s: %v", id, res.Err)
		case id == steps.VerifyID, id == steps.DirID("/etc/containerd"), id == steps.DirID("/opt/kata"), id == steps.DirID("/etc"), id == steps.DirID("/opt"):
			// There before the apply.
		case strings.HasPrefix(id, "sysctl:"), strings.HasPrefix(id, "module:"):
			// The running kernel's: files at boot, not undone until then.
		case !res.Changed():
			t.Errorf("plan after reset: %s: %+v", id, res.Change)
		}
	}
}

// A reset without systemd running (--root) removes the [Install] links
// the apply wrote instead of asking systemd.
func TestResetOffline(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.Env.Systemd = nil
	n.Env.Phase = steps.PhaseBake
	before := files(t, n.Root)
	for id, res := range n.run(g, true) {
		if res.Err != nil {
			t.Fatalf("%s: %v", id, res.Err)
		}
	}
	link := "/etc/systemd/system/multi-user.target.wants/containerd.service"
	if !n.Exists(link) {
		t.Fatalf("the bake did not enable containerd")
	}
	p, err := PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(p); !slices.Contains(got, "unlink "+link) || slices.Contains(got, "reload systemd") || slices.Contains(got, "stop containerd.service") {
		t.Errorf("offline reset plan:\n%s", strings.Join(got, "\n"))
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, "the offline reset", before, withoutCache(files(t, n.Root)))
}

// A file changed since nodeup wrote it is someone's now: reset leaves it
// and the backup of what nodeup had replaced there.
func TestResetKeepsChangedFiles(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.Write("/etc/containerd/config.toml", distroConfig, 0o644)
	n.converge(g)
	n.Write("/etc/containerd/config.toml", "# edited after nodeup\n", 0o644)
	n.Write("/etc/crictl.yaml", "# edited after nodeup\n", 0o644)
	p, err := PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := actions(p)
	for _, want := range []string{"keep /etc/containerd/config.toml", "keep /etc/crictl.yaml"} {
		if !slices.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Read("/etc/containerd/config.toml") != "# edited after nodeup\n" || n.Read("/etc/crictl.yaml") != "# edited after nodeup\n" {
		t.Errorf("reset changed a file edited after nodeup")
	}
	if n.Read("/var/lib/nodeup/backup/etc/containerd/config.toml") != distroConfig {
		t.Errorf("reset dropped the backup of a file it did not put back")
	}
	if n.Exists(paths.StateFile) {
		t.Errorf("the state is left")
	}
}

// A reset that cannot finish says so, keeps on the record what it did not
// undo, and a second reset finishes.
func TestResetThatFailsCanBeRunAgain(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	n := newGraphNode(t)
	n.converge(g)
	n.Fake.Fail("stop", "containerd.service", errors.New("job timed out"))
	p, err := PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "stop containerd.service: ") || !strings.Contains(err.Error(), "run nodeup reset again") {
		t.Fatalf("reset with a unit that does not stop: %v", err)
	}
	st := mustLoad(t, n)
	if _, ok := st.Lookup("/usr/local/bin/containerd"); ok {
		t.Errorf("a removed binary is still on the record")
	}
	if _, ok := st.Unit("containerd.service"); !ok {
		t.Errorf("the unit that did not stop is off the record")
	}
	n.Fake.Fail("stop", "containerd.service", nil)
	n.Env.State = st
	p, err = PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Exists(paths.StateFile) || n.Fake.Unit("containerd.service").ActiveState != "inactive" {
		t.Errorf("the second reset did not finish")
	}
}

func mustLoad(t *testing.T, n *graphNode) *state.State {
	t.Helper()
	st, err := state.Load(n.Host)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// guarded applies g as nodeup apply does: plan, keep copies of what
// changes for a running unit, apply, and roll back a unit that does not
// come up verified.
func (n *graphNode) guarded(g *graph.Graph) (map[string]Result, []RolledBack) {
	n.T.Helper()
	ctx := context.Background()
	planned := Run(ctx, g, n.Env, Options{Parallelism: 4})
	rb, err := PrepareRollback(ctx, g, n.Env, planned)
	if err != nil {
		n.T.Fatal(err)
	}
	n.Fake.Reset()
	results := Run(ctx, g, n.Env, Options{Apply: true, Parallelism: 4})
	rolled := rb.Finish(ctx, results)
	n.Settle("containerd.service", "kubelet.service")
	out := map[string]Result{}
	for _, r := range results {
		out[r.ID] = r
	}
	return out, rolled
}

// failsWith makes containerd fail to start while its binary holds broken.
func failsWith(n *graphNode, broken string) {
	n.Fake.Unit("containerd.service").StartResult = func() string {
		if b, _ := os.ReadFile(n.Real(paths.Containerd)); string(b) == broken {
			return "failed"
		}
		return "active"
	}
}

// An upgrade that comes up verified restarts containerd once and keeps no
// copies; the state records the release it replaced.
func TestUpgradeRestartsOnce(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	r.version, r.containerd = "1.7.30", "containerd 1.7.30"
	n.converge(r.graph())
	if !strings.Contains(n.Read(paths.ContainerdConfig), "version = 2") {
		t.Fatalf("1.7 config:\n%s", n.Read(paths.ContainerdConfig))
	}
	r.version, r.containerd = "2.3.4", "containerd 2.3.4"
	res, rolled := n.guarded(r.graph())
	if len(rolled) != 0 {
		t.Fatalf("rolled back a working upgrade: %+v", rolled)
	}
	// 2.x's unit leaves the open-files limit to systemd: the unit file
	// changes with the release, and containerd still restarts once.
	if got := changedIDs(res); !slices.Equal(got, []string{"artifact:containerd", "file:/etc/containerd/config.toml", "file:/etc/systemd/system/containerd.service", steps.UnitID(paths.ContainerdService)}) {
		t.Errorf("the upgrade changed %q", got)
	}
	if n.Fake.Count("restart", "containerd.service") != 1 || n.Fake.Count("start", "containerd.service") != 0 {
		t.Errorf("calls %q; want one restart", n.Fake.Calls())
	}
	if !strings.Contains(n.Read(paths.ContainerdConfig), "version = 4") {
		t.Errorf("config after the upgrade:\n%s", n.Read(paths.ContainerdConfig))
	}
	a, _ := n.Env.State.Artifact("containerd")
	if a.Version != "2.3.4" || a.Previous == nil || a.Previous.Version != "1.7.30" {
		t.Errorf("state: %+v", a)
	}
	if n.Exists(paths.RollbackDir) {
		t.Errorf("the copies are left after a working upgrade")
	}
}

// An upgrade whose containerd fails to start is taken back: the previous
// binaries and config, a restart, a verification; the state records the
// release taken back. The node then matches the previous profile.
func TestRollbackWhenTheUnitFails(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	r.version, r.containerd = "1.7.30", "containerd 1.7.30"
	old := r.graph()
	n.converge(old)
	oldConfig := n.Read(paths.ContainerdConfig)
	before, _ := n.Env.State.Artifact("containerd")

	failsWith(n, "containerd broken")
	r.version, r.containerd = "2.3.4", "containerd broken"
	res, rolled := n.guarded(r.graph())
	var ue interface{ Unwrap() error }
	if err := res[steps.UnitID(paths.ContainerdService)].Err; err == nil || !errors.As(err, &ue) {
		t.Fatalf("containerd: %v", err)
	}
	if len(rolled) != 1 {
		t.Fatalf("rolled back %+v", rolled)
	}
	rb := rolled[0]
	t.Logf("rollback: %s", rb.Summary())
	if !rb.OK() || rb.Unit != "containerd.service" || !strings.Contains(rb.Cause, "restart containerd.service") ||
		!slices.Contains(rb.Restored, paths.Containerd) || !slices.Contains(rb.Restored, paths.ContainerdConfig) {
		t.Errorf("rollback: %+v", rb)
	}
	if len(rb.Artifacts) != 1 || rb.Artifacts[0].From != "2.3.4" || rb.Artifacts[0].To != "1.7.30" {
		t.Errorf("rollback artifacts: %+v", rb.Artifacts)
	}
	if !strings.Contains(rb.Summary(), "the node is back on containerd 1.7.30 (from 2.3.4)") {
		t.Errorf("summary: %s", rb.Summary())
	}
	if n.Read(paths.Containerd) != "containerd 1.7.30" || n.Read(paths.ContainerdConfig) != oldConfig {
		t.Errorf("the old binary and config are not back")
	}
	if n.Fake.Count("restart", "containerd.service") != 2 || n.Fake.Unit("containerd.service").ActiveState != "active" {
		t.Errorf("calls %q", n.Fake.Calls())
	}
	a, _ := n.Env.State.Artifact("containerd")
	if a.Version != "1.7.30" || a.SHA256 != before.SHA256 || a.RolledBack == nil || a.RolledBack.Version != "2.3.4" || !strings.Contains(a.RolledBack.Error, "restart containerd.service") {
		t.Errorf("state after the rollback: %+v %+v", a, a.RolledBack)
	}
	if _, due := n.Env.State.DueRestart("containerd.service"); due {
		t.Errorf("a restart is still due after the rollback")
	}
	if n.Exists(paths.RollbackDir) {
		t.Errorf("the copies are left after the rollback")
	}
	// Back where it was: the previous profile has nothing to change.
	for id, res := range n.run(old, false) {
		if res.Err != nil || res.Changed() {
			t.Errorf("plan of the previous profile after the rollback: %s: %+v %v", id, res.Change, res.Err)
		}
	}
}

// Containerd that starts but does not verify (a handler is missing) is
// taken back too.
func TestRollbackWhenVerificationFails(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	n.converge(r.graph())
	good := stepstest.ServeCRI(t, "runc", "kata-qemu")
	bad := stepstest.ServeCRI(t, "runc")
	n.Env.Dial = func(ctx context.Context, endpoint string) (*cri.Client, error) {
		sock := good
		if b, _ := os.ReadFile(n.Real(paths.Containerd)); string(b) == "containerd without kata" {
			sock = bad
		}
		return cri.Dial(ctx, "unix://"+sock)
	}
	r.containerd = "containerd without kata"
	res, rolled := n.guarded(r.graph())
	if err := res[steps.VerifyID].Err; err == nil || !strings.Contains(err.Error(), "handler kata-qemu") {
		t.Fatalf("verify: %v", err)
	}
	if len(rolled) != 1 || !rolled[0].OK() || !strings.Contains(rolled[0].Cause, "verification failed") || rolled[0].Verify == nil {
		t.Fatalf("rollback: %+v", rolled)
	}
	if n.Read(paths.Containerd) != "containerd 2.3.4" {
		t.Errorf("binary after the rollback: %q", n.Read(paths.Containerd))
	}
}

// Nothing ran before, so there is nothing to go back to: a failed first
// start is reported as it is.
func TestNoRollbackOnAFreshNode(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	failsWith(n, "containerd broken")
	r.containerd = "containerd broken"
	res, rolled := n.guarded(r.graph())
	if res[steps.UnitID(paths.ContainerdService)].Err == nil || len(rolled) != 0 {
		t.Errorf("fresh node: %v, rolled back %+v", res[steps.UnitID(paths.ContainerdService)].Err, rolled)
	}
	if n.Exists(paths.RollbackDir) {
		t.Errorf("copies kept on a fresh node")
	}
}

// A failure elsewhere (a download) is no verdict on containerd: nothing
// is taken back and its restart stays due.
func TestNoRollbackWhenTheUnitDidNotRun(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	n.converge(r.graph())
	r.containerd, r.runc = "containerd 2.3.4 rebuilt", "runc rebuilt"
	g := r.graph()
	r.m.Put(releases+"runc.amd64", []byte("tampered"))
	res, rolled := n.guarded(g)
	if res["artifact:runc"].Err == nil || len(rolled) != 0 {
		t.Errorf("runc: %v; rolled back %+v", res["artifact:runc"].Err, rolled)
	}
	if _, due := n.Env.State.DueRestart("containerd.service"); !due {
		t.Errorf("containerd's restart is not due")
	}
}

// A containerd that reads an older config schema than the installed one
// is a schema downgrade; one that reads the same schema is not.
func TestSchemaDowngrades(t *testing.T) {
	r := newRelease(t)
	n := newGraphNode(t)
	n.converge(r.graph())
	schema := func(name, v string) int {
		if name != "containerd" {
			return 0
		}
		s, _ := templates.ConfigVersionFor(v)
		return s
	}
	r.version = "2.3.3"
	if d := SchemaDowngrades(r.graph(), n.Env.State, schema); len(d) != 0 {
		t.Errorf("2.3.4 -> 2.3.3: %v", d)
	}
	if c := VersionChanges(r.graph(), n.Env.State); len(c) != 1 || c[0].Upgrade() {
		t.Errorf("changes: %+v", c)
	}
	r.version = "1.7.30"
	d := SchemaDowngrades(r.graph(), n.Env.State, schema)
	if len(d) != 1 || d[0].FromSchema != 4 || d[0].ToSchema != 2 {
		t.Fatalf("2.3.4 -> 1.7.30: %+v", d)
	}
	for _, want := range []string{"artifact:containerd", "2.3.4 -> 1.7.30", "config schemas (version 4 -> 2)", "--allow-downgrade"} {
		if !strings.Contains(d[0].Error(), want) {
			t.Errorf("error lacks %q: %v", want, d[0])
		}
	}
}

// A state written before units were recorded still has nodeup's unit
// files: reset stops and disables their units, and removes their links
// where systemd is not running.
func TestResetOfAStateWithoutUnits(t *testing.T) {
	r := newRelease(t)
	g := r.graph()
	for _, online := range []bool{true, false} {
		n := newGraphNode(t)
		if !online {
			n.Env.Systemd, n.Env.Phase = nil, steps.PhaseBake
		}
		for id, res := range n.run(g, true) {
			if res.Err != nil {
				t.Fatalf("%s: %v", id, res.Err)
			}
		}
		for _, u := range []string{"containerd.service", "kubelet.service"} {
			n.Env.State.ForgetUnit(u)
		}
		p, err := PlanReset(context.Background(), n.Env, ResetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := actions(p)
		want := []string{"unlink /etc/systemd/system/multi-user.target.wants/containerd.service"}
		if online {
			want = []string{"stop containerd.service", "disable containerd.service", "disable kubelet.service"}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("online=%v: the reset plan lacks %q:\n%s", online, w, strings.Join(got, "\n"))
			}
		}
	}
}
