package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
	"golang.org/x/mod/semver"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/templates"
	"github.com/nodeup/nodeup/tests/testbed"
)

// dumpReleases are the containerd releases the config-dump test runs: one per
// config schema (2: 1.x, 3: 2.0–2.2, 4: 2.3+), plus 2.0, the one release
// that reads CNI bin_dir but not bin_dirs. 1.7.30 and 2.3.4 come from the
// test bed's mirror build; the others from tests/build-containerd.sh.
var dumpReleases = []string{"1.7.30", "2.0.7", "2.1.6", "2.3.4"}

// versionLine is a config.toml's own schema version line.
var versionLine = regexp.MustCompile(`(?m)^version = (\d+)$`)

// TestConfigDump feeds the config.toml nodeup renders for every golden case
// of package plan (Linux ones) to the real containerd release it is meant
// for and checks that containerd takes it as written: `containerd --config FILE config dump` exits 0, the golden
// file declares the schema that release reads natively (containerd 2.x would
// silently migrate an older one), and every setting of the golden file shows
// up in the dump with the same value — a key containerd does not know
// would be missing there — including the runc handler's SystemdCgroup.
//
// The binaries are built from source on first use (minutes each; run with
// -timeout 60m on a fresh machine) and cached under the test bed's cache.
func TestConfigDump(t *testing.T) {
	cases, err := filepath.Glob("../plan/testdata/cases/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases under ../plan/testdata/cases (err %v)", err)
	}
	for _, dir := range cases {
		name := filepath.Base(dir)
		raw := renderedConfig(t, dir)
		if raw == nil {
			continue // a Windows node: no config.toml under /etc
		}
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(golden, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			m := versionLine.FindSubmatch(raw)
			if m == nil {
				t.Fatalf("%s has no `version = N` line", golden)
			}
			schema, _ := strconv.Atoi(string(m[1]))
			release := dumpRelease(t, name, schema)
			if native, _ := templates.ConfigVersionFor(release); native != schema {
				t.Fatalf("%s declares version = %d, but containerd %s reads version %d natively", golden, schema, release, native)
			}
			want := parseTOML(t, golden, raw)

			bin := containerdBinary(t, release)
			cmd := exec.Command(bin, "--config", golden, "config", "dump")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			t.Logf("$ %s\nexit: %v; %d lines on stdout; stderr: %q", strings.Join(cmd.Args, " "), err, bytes.Count(stdout.Bytes(), []byte("\n")), stderr.String())
			if err != nil {
				t.Fatalf("containerd %s config dump: %v\n%s", release, err, stderr.Bytes())
			}
			// A warning means a deprecated or ignored key: not what nodeup should render.
			if bytes.Contains(stderr.Bytes(), []byte("level=warning")) || bytes.Contains(stderr.Bytes(), []byte("level=error")) {
				t.Errorf("containerd %s complains about the config:\n%s", release, stderr.Bytes())
			}
			dump := parseTOML(t, "the dump", stdout.Bytes())
			if dump["version"] != int64(schema) {
				t.Errorf("dump has version = %v, want %d", dump["version"], schema)
			}

			for _, diff := range missingFrom(dump, want, nil) {
				t.Errorf("containerd %s dropped or changed a setting: %s", release, diff)
			}

			runc := runcOptionsPath(schema)
			wantSystemd := at(want, runc...)
			if wantSystemd != true && !strings.Contains(name, "cgroupfs") {
				t.Errorf("golden %s: runc SystemdCgroup = %v, want true", name, wantSystemd)
			}
			got := at(dump, runc...)
			if got != wantSystemd {
				t.Errorf("dump: %s = %v, want %v", strings.Join(runc, "."), got, wantSystemd)
			}
			t.Logf("dump: %s = %v", strings.Join(runc, "."), got)
		})
	}
}

// renderedConfig is the /etc/containerd/config.toml nodeup renders for a
// golden case of package plan (its profile.hcl, or the shipped profile of
// its name), or nil when it renders none.
func renderedConfig(t *testing.T, dir string) []byte {
	t.Helper()
	profile := filepath.Join(dir, "profile.hcl")
	if _, err := os.Stat(profile); err != nil {
		profile = filepath.Join("../profiles", filepath.Base(dir)+".hcl")
	}
	loaded, diags := plan.Load(profile, plan.Options{HostArch: "amd64"})
	if diags.HasErrors() {
		t.Fatalf("%s: %s", profile, diags.Error())
	}
	files, err := templates.Render(loaded.Profile)
	if err != nil {
		t.Fatalf("%s: %v", profile, err)
	}
	for _, f := range files {
		if f.Path == paths.ContainerdConfig {
			return f.Content
		}
	}
	return nil
}

// dumpRelease is the containerd release that checks the golden case: the
// case's own release when it is one of dumpReleases, else the newest of
// them that reads the case's schema natively.
func dumpRelease(t *testing.T, name string, schema int) string {
	t.Helper()
	if own, ok := strings.CutPrefix(name, "containerd-"); ok && slices.Contains(dumpReleases, own) {
		return own
	}
	best := ""
	for _, r := range dumpReleases {
		if v, _ := templates.ConfigVersionFor(r); v == schema && (best == "" || semver.Compare("v"+r, "v"+best) > 0) {
			best = r
		}
	}
	if best == "" {
		t.Fatalf("no containerd release in %v reads config version %d", dumpReleases, schema)
	}
	return best
}

// containerdBinary returns the path of containerd RELEASE, building it when
// it is missing; it fails the test (never skips) when it cannot be had.
func containerdBinary(t *testing.T, release string) string {
	t.Helper()
	bin := filepath.Join(testbed.Cache(), "bin", "containerd-"+release, "containerd")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if strings.HasPrefix(release, "1.") {
		testbed.Mirror(t) // the mirror build is the one that knows how to build 1.x
	} else {
		cmd := exec.Command("bash", "build-containerd.sh", release)
		out, err := cmd.CombinedOutput()
		t.Logf("$ %s\n%s", strings.Join(cmd.Args, " "), out)
		if err != nil {
			t.Fatalf("building containerd %s: %v", release, err)
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("containerd %s: %v", release, err)
	}
	return bin
}

// runcOptionsPath is where a config of the given schema keeps the runc handler's options.
func runcOptionsPath(schema int) []string {
	cri := "io.containerd.cri.v1.runtime"
	if schema == 2 {
		cri = "io.containerd.grpc.v1.cri"
	}
	return []string{"plugins", cri, "containerd", "runtimes", "runc", "options", "SystemdCgroup"}
}

func parseTOML(t *testing.T, what string, data []byte) map[string]any {
	t.Helper()
	tree := map[string]any{}
	if err := toml.Unmarshal(data, &tree); err != nil {
		t.Fatalf("%s is not TOML: %v", what, err)
	}
	return tree
}

// missingFrom lists the leaves of want that dump lacks or holds with another value.
func missingFrom(dump, want map[string]any, path []string) []string {
	var diffs []string
	for k, wv := range want {
		p := append(slices.Clone(path), k)
		if wt, ok := wv.(map[string]any); ok {
			dt, ok := dump[k].(map[string]any)
			if !ok {
				diffs = append(diffs, strings.Join(p, ".")+": table missing")
				continue
			}
			diffs = append(diffs, missingFrom(dt, wt, p)...)
			continue
		}
		if dv, ok := dump[k]; !ok || !reflect.DeepEqual(dv, wv) {
			diffs = append(diffs, strings.Join(p, ".")+": want "+strconv.Quote(toString(wv))+", dump has "+strconv.Quote(toString(dump[k])))
		}
	}
	slices.Sort(diffs)
	return diffs
}

func toString(v any) string {
	if v == nil {
		return "<nothing>"
	}
	b, err := toml.Marshal(map[string]any{"v": v})
	if err != nil {
		return "?"
	}
	return strings.TrimSuffix(strings.TrimPrefix(string(b), "v = "), "\n")
}

// at walks a TOML tree along keys; nil when a key is missing.
func at(tree map[string]any, keys ...string) any {
	var v any = tree
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
