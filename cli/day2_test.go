package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
)

const distroConfig = "version = 2\n# the distribution's containerd config\n"

// bakedRoot is a root with a distribution's containerd config, applied
// with the test profile (--phase bake: no systemd there).
func bakedRoot(t *testing.T, profile string) string {
	t.Helper()
	root := t.TempDir()
	cfg := filepath.Join(root, "etc/containerd/config.toml")
	os.MkdirAll(filepath.Dir(cfg), 0o755)
	if err := os.WriteFile(cfg, []byte(distroConfig), 0o640); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	return root
}

func TestStateCommands(t *testing.T) {
	profile := testProfile(t)
	root := bakedRoot(t, profile)

	code, out, errs := nodeup(t, "state", "list", "--root", root)
	if code != 0 {
		t.Fatalf("state list: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"State: /var/lib/nodeup/state.json", "Last apply: ", "ok: ",
		"Artifacts:", "containerd 2.3.4 sha256:", "runc", "Files:", "/usr/local/bin/containerd", "/etc/containerd/config.toml",
		"Units:", "containerd.service", "/etc/systemd/system/multi-user.target.wants/containerd.service",
		"Directories nodeup created:", "/opt/cni/bin", "Backups of files nodeup replaced", "/var/lib/nodeup/backup/etc/containerd/config.toml",
	} {
		if !strings.Contains(spaces.ReplaceAllString(out, " "), want) {
			t.Errorf("state list lacks %q:\n%s", want, out)
		}
	}
	noSecret(t, "state list", out+errs)

	code, out, _ = nodeup(t, "state", "list", "--root", root, "--json")
	var l struct {
		Artifacts []struct {
			Name, Version, SHA256 string
			Files                 []string
		}
		Files []struct{ Path, SHA256, Artifact string }
		Units []struct {
			Name  string
			Links []string
		}
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || code != 0 || len(l.Artifacts) != 4 || len(l.Units) != 2 {
		t.Fatalf("state list --json: exit %d, %v\n%s", code, err, out)
	}
	for _, f := range l.Files {
		if f.Path == "/usr/local/bin/containerd" && (f.Artifact != "containerd" || len(f.SHA256) != 64) {
			t.Errorf("containerd binary: %+v", f)
		}
	}

	for _, c := range []struct {
		item string
		want []string
	}{
		{"containerd", []string{"artifact containerd", "version 2.3.4", "file /usr/local/bin/containerd", "on the node as nodeup wrote it"}},
		{"/etc/containerd/config.toml", []string{"file /etc/containerd/config.toml", "as nodeup wrote it", "backup /var/lib/nodeup/backup/etc/containerd/config.toml"}},
		{"containerd.service", []string{"unit containerd.service", "enabled, to start at boot, unit file /etc/systemd/system/containerd.service", "link /etc/systemd/system/multi-user.target.wants/containerd.service"}},
		{"/opt/cni/bin", []string{"directory /opt/cni/bin", "nodeup (exists now)"}},
	} {
		code, out, errs := nodeup(t, "state", "show", c.item, "--root", root)
		if code != 0 {
			t.Errorf("state show %s: exit %d\n%s%s", c.item, code, out, errs)
		}
		flat := spaces.ReplaceAllString(out, " ")
		for _, want := range c.want {
			if !strings.Contains(flat, want) {
				t.Errorf("state show %s lacks %q:\n%s", c.item, want, out)
			}
		}
	}
	os.WriteFile(filepath.Join(root, "usr/local/sbin/runc"), []byte("patched"), 0o755)
	code, out, _ = nodeup(t, "state", "show", "/usr/local/sbin/runc", "--root", root, "--json")
	var item struct {
		Kind  string
		Files []struct{ Status string }
	}
	if err := json.Unmarshal([]byte(out), &item); err != nil || code != 0 || item.Kind != "file" || !strings.HasPrefix(item.Files[0].Status, "changed since nodeup wrote it") {
		t.Errorf("state show --json of a changed binary: exit %d %v\n%s", code, err, out)
	}
	code, _, errs = nodeup(t, "state", "show", "/etc/passwd", "--root", root)
	if code != 1 || !strings.Contains(errs, "state show /etc/passwd: /var/lib/nodeup/state.json records no such item; nodeup state list shows what it has") {
		t.Errorf("state show of an unknown path: exit %d\n%s", code, errs)
	}

	empty := t.TempDir()
	if code, out, _ := nodeup(t, "state", "list", "--root", empty); code != 0 || !strings.Contains(out, "nodeup has no state on this node") {
		t.Errorf("state list of a fresh root: exit %d\n%s", code, out)
	}
}

func TestResetCommand(t *testing.T) {
	profile := testProfile(t)
	root := bakedRoot(t, profile)
	link := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/containerd.service")

	// Not on a terminal and without --yes: the plan, and nothing done.
	code, out, errs := nodeup(t, "reset", "--root", root)
	if code != 1 || !strings.Contains(errs, "pass --yes to reset") {
		t.Errorf("reset without --yes: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"nodeup reset will:", "unlink /etc/systemd/system/multi-user.target.wants/containerd.service", "remove /usr/local/bin/containerd",
		"restore /etc/containerd/config.toml", "keep /var/cache/nodeup"} {
		if !strings.Contains(spaces.ReplaceAllString(out, " "), want) {
			t.Errorf("reset plan lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Lstat(link); err != nil {
		t.Fatalf("reset without --yes changed the node: %v", err)
	}

	code, out, errs = nodeup(t, "reset", "--root", root, "--yes")
	if code != 0 || !strings.Contains(out, "Reset: ") {
		t.Fatalf("reset --yes: exit %d\n%s%s", code, out, errs)
	}
	b, _ := os.ReadFile(filepath.Join(root, "etc/containerd/config.toml"))
	fi, _ := os.Stat(filepath.Join(root, "etc/containerd/config.toml"))
	if string(b) != distroConfig || fi.Mode().Perm() != 0o640 {
		t.Errorf("config.toml after reset: %v %q", fi.Mode(), b)
	}
	for _, gone := range []string{link, filepath.Join(root, "usr/local/bin/containerd"), filepath.Join(root, paths.StateDir), filepath.Join(root, "opt/cni")} {
		if _, err := os.Lstat(gone); err == nil {
			t.Errorf("%s is left after reset", gone)
		}
	}

	code, out, _ = nodeup(t, "reset", "--root", root, "--yes")
	if code != 0 || !strings.Contains(out, "Nothing to reset") {
		t.Errorf("second reset: exit %d\n%s", code, out)
	}
	code, out, _ = nodeup(t, "reset", "--root", root, "--yes", "--purge", "--json")
	var r struct {
		Steps []struct{ Action, Target string }
		Done  bool
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Done || len(r.Steps) != 1 || r.Steps[0].Target != paths.CacheDir {
		t.Errorf("reset --purge --json: exit %d %v\n%s", code, err, out)
	}

	code, out, _ = nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "+ artifact:containerd: create") || !strings.Contains(out, "~ file:/etc/containerd/config.toml: update content differs; nodeup did not write it") {
		t.Errorf("plan after reset: exit %d\n%s", code, out)
	}
}

var spaces = regexp.MustCompile(` +`)

var metricLine = regexp.MustCompile(`(?m)^(nodeup_[a-z_]+) (\S+)$`)

func readMetrics(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range metricLine.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
		if !strings.Contains(string(b), "# TYPE "+m[1]+" gauge\n") {
			t.Errorf("%s has no TYPE line:\n%s", m[1], b)
		}
	}
	return out
}

func TestPlanMetricsFile(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	file := filepath.Join(t.TempDir(), "textfile", "nodeup.prom")

	code, _, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode", "--metrics-file", file)
	m := readMetrics(t, file)
	if code != 2 || m["nodeup_plan_ok"] != "1" || m["nodeup_drift_steps"] == "0" || m["nodeup_drift_steps"] == "" {
		t.Errorf("before apply: exit %d %v\n%s", code, m, errs)
	}
	if _, ok := m["nodeup_last_apply_timestamp_seconds"]; ok {
		t.Errorf("a last apply before any: %v", m)
	}
	if _, ok := m["nodeup_verify_ok"]; ok {
		t.Errorf("verified where nothing runs: %v", m)
	}

	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	code, _, _ = nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode", "--metrics-file", file)
	m = readMetrics(t, file)
	// A bake converges without verifying: not an apply that is ok.
	if code != 0 || m["nodeup_drift_steps"] != "0" || m["nodeup_last_apply_ok"] != "0" || m["nodeup_last_apply_verified"] != "0" || m["nodeup_last_apply_timestamp_seconds"] == "" {
		t.Errorf("after apply: exit %d %v", code, m)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("the metrics file was not written atomically: %v", entries)
	}

	// A profile that does not load still says so.
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("containerd {"), 0o644)
	code, _, _ = nodeup(t, "plan", bad, "--root", root, "--phase", "bake", "--metrics-file", file)
	m = readMetrics(t, file)
	if code != 1 || m["nodeup_plan_ok"] != "0" || m["nodeup_last_apply_timestamp_seconds"] == "" {
		t.Errorf("broken profile: exit %d %v", code, m)
	}
	if _, ok := m["nodeup_drift_steps"]; ok {
		t.Errorf("drift of a plan that did not run: %v", m)
	}
}

// withContainerd is the test profile with another containerd release,
// served by a mirror tried first.
func withContainerd(t *testing.T, profile, version string) string {
	t.Helper()
	archive := tarGz(t, map[string]string{"bin/containerd": "containerd " + version, "bin/containerd-shim-runc-v2": "shim", "bin/ctr": "ctr"})
	name := "/releases.example/containerd-" + version + ".tar.gz"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != name {
			http.NotFound(w, r)
			return
		}
		w.Write(archive)
	}))
	t.Cleanup(srv.Close)
	b, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	block := regexp.MustCompile(`(?s)containerd \{\n  version = "2\.3\.4"\n  url = "[^"]*"\n  sha256 = "[0-9a-f]*"`)
	if !block.Match(b) {
		t.Fatalf("the test profile's containerd block changed:\n%s", b)
	}
	s := block.ReplaceAllLiteralString(string(b), fmt.Sprintf("containerd {\n  version = %q\n  url = %q\n  sha256 = %q", version, "https:/"+name, hex.EncodeToString(sum[:])))
	s = strings.Replace(s, "urls     = [", fmt.Sprintf("urls     = [%q, ", srv.URL), 1)
	p := filepath.Join(t.TempDir(), "node.hcl")
	os.WriteFile(p, []byte(s), 0o644)
	return p
}

func TestApplyRefusesASchemaDowngrade(t *testing.T) {
	profile := testProfile(t)
	root := bakedRoot(t, profile)
	older := withContainerd(t, profile, "1.7.30")
	cfg := filepath.Join(root, "etc/containerd/config.toml")
	before, _ := os.ReadFile(cfg)

	// The plan predicts the apply: it fails, in its diagnostics and its
	// failed count, and passes with --allow-downgrade.
	code, _, errs := nodeup(t, "plan", older, "--root", root, "--phase", "bake")
	if code != 1 || !strings.Contains(errs, "Error: apply would refuse this plan") || !strings.Contains(errs, "artifact:containerd: containerd 2.3.4 -> 1.7.30 is a downgrade across config schemas (version 4 -> 2)") {
		t.Errorf("plan of a downgrade: exit %d\n%s", code, errs)
	}
	code, out, _ := nodeup(t, "plan", older, "--root", root, "--phase", "bake", "--json")
	var doc struct {
		OK          bool
		Summary     map[string]int
		Diagnostics []struct{ Severity, Summary string }
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 1 || err != nil || doc.OK || doc.Summary["failed"] != 1 || len(doc.Diagnostics) != 1 || doc.Diagnostics[0].Severity != "error" {
		t.Errorf("plan --json of a downgrade: exit %d %v\n%s", code, err, out)
	}
	if code, _, errs := nodeup(t, "plan", older, "--root", root, "--phase", "bake", "--allow-downgrade"); code != 0 {
		t.Errorf("plan --allow-downgrade: exit %d\n%s", code, errs)
	}
	code, out, errs = nodeup(t, "apply", older, "--root", root, "--phase", "bake")
	if code != 1 || !strings.Contains(errs, "nothing was changed. Pass --allow-downgrade to apply it anyway") {
		t.Errorf("apply of a downgrade: exit %d\n%s%s", code, out, errs)
	}
	if after, _ := os.ReadFile(cfg); string(after) != string(before) {
		t.Errorf("the refused downgrade changed config.toml")
	}
	code, out, errs = nodeup(t, "apply", older, "--root", root, "--phase", "bake", "--allow-downgrade")
	if code != 0 {
		t.Fatalf("apply --allow-downgrade: exit %d\n%s%s", code, out, errs)
	}
	if after, _ := os.ReadFile(cfg); !strings.Contains(string(after), "version = 2") {
		t.Errorf("config after the downgrade:\n%s", after)
	}
	if code, out, _ := nodeup(t, "state", "show", "containerd", "--root", root); code != 0 || !strings.Contains(spaces.ReplaceAllString(out, " "), "version 1.7.30") || !strings.Contains(spaces.ReplaceAllString(out, " "), "replaced 2.3.4 (sha256:") {
		t.Errorf("state show after the downgrade: exit %d\n%s", code, out)
	}
}

// On a terminal, reset asks; anything but yes leaves the node alone.
func TestResetAsksOnATerminal(t *testing.T) {
	profile := testProfile(t)
	root := bakedRoot(t, profile)
	ptmx, pts := openPTY(t)
	reset := func(answer string) (int, string) {
		if _, err := ptmx.WriteString(answer + "\n"); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code := Run([]string{"reset", "--root", root}, Streams{In: pts, Out: &out, Err: &out}, environ)
		return code, out.String()
	}
	code, out := reset("no")
	if code != 1 || !strings.Contains(out, "Reset this node? Type yes to go on: ") || !strings.Contains(out, "reset cancelled; nothing was changed") {
		t.Errorf("answered no: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, paths.StateFile)); err != nil {
		t.Fatalf("the cancelled reset changed the node: %v", err)
	}
	code, out = reset("yes")
	if code != 0 || !strings.Contains(out, "Reset: ") {
		t.Errorf("answered yes: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, paths.StateFile)); err == nil {
		t.Errorf("the state is left after the reset")
	}
}
