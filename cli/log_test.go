package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// jsonLines parses every stderr line as one JSON object.
func jsonLines(t *testing.T, what, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%s: a stderr line is not a JSON object: %v\n%s", what, err, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: no %q in %s", what, k, line)
			}
		}
		out = append(out, m)
	}
	return out
}

// Under --log-format json, stderr is JSON lines: downloads, steps,
// diagnostics and the final error included.
func TestLogFormatJSON(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()

	code, _, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake", "--log-format", "json")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	records := jsonLines(t, "apply", errs)
	downloads := map[string]bool{}
	for _, r := range records {
		if name, ok := r["download"].(string); ok {
			downloads[name] = true
			if r["level"] != "info" {
				t.Errorf("download record %v", r)
			}
		}
	}
	for _, name := range []string{"containerd.tar.gz", "runc.amd64", "cni.tgz", "kubelet"} {
		if !downloads[name] {
			t.Errorf("no download record of %s in\n%s", name, errs)
		}
	}

	code, _, errs = nodeup(t, "validate", "../plan/testdata/invalid/many_errors.hcl", "--log-format", "json")
	records = jsonLines(t, "validate", errs)
	if code != 1 || len(records) != 5 {
		t.Fatalf("validate: exit %d, %d records\n%s", code, len(records), errs)
	}
	if d := records[0]; d["level"] != "error" || d["file"] != "../plan/testdata/invalid/many_errors.hcl" || d["line"] != float64(7) || d["column"] != float64(19) || d["summary"] != "Invalid cgroup driver" {
		t.Errorf("diagnostic record %v", d)
	}
	if last := records[4]; last["level"] != "error" || !strings.Contains(last["msg"].(string), "4 error(s)") {
		t.Errorf("last record %v", last)
	}

	// A wrong command line too.
	code, _, errs = nodeup(t, "plan", "--log-format", "json")
	if records := jsonLines(t, "plan without a profile", errs); code != 1 || len(records) != 1 {
		t.Errorf("exit %d\n%s", code, errs)
	}
}

// Not on a terminal, stderr is plain lines with a timestamp, downloads
// included: what cloud-init logs keep.
func TestTextLogsAreTimestampedLines(t *testing.T) {
	profile := testProfile(t)
	code, out, errs := nodeup(t, "apply", profile, "--root", t.TempDir(), "--phase", "bake")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	// Each step's line as it finishes, with the time.
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \+ artifact:containerd: create \(\d+m?s\) install containerd`).MatchString(out) {
		t.Errorf("no timestamped step line on stdout:\n%s", out)
	}
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (info|warning|error): `)
	for _, line := range strings.Split(strings.TrimRight(errs, "\n"), "\n") {
		if !stamped.MatchString(line) {
			t.Errorf("not a timestamped log line: %q", line)
		}
	}
	for _, want := range []string{"info: downloading containerd.tar.gz (", "info: downloaded containerd.tar.gz: "} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "\r") || strings.Contains(errs, "\x1b") {
		t.Errorf("terminal control in a log:\n%q", errs)
	}
}
