package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A block removed from the profile is a delete in the plan (exit 2 with
// --detailed-exitcode, "delete" in the JSON summary, no secret of the
// file it removes), apply takes it off the root, and the next plan is
// quiet.
func TestPlanShowsWhatLeftTheProfile(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\nkubelet {")
	end := start + strings.Index(text[start:], "\n}\n") + 3
	if start < 0 || end < start {
		t.Fatalf("no kubelet block in\n%s", text)
	}
	without := filepath.Join(t.TempDir(), "node.hcl")
	if err := os.WriteFile(without, []byte(text[:start]+text[end:]), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errs := nodeup(t, "plan", without, "--root", root, "--phase", "bake", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("plan:\n%s", out)
	noSecret(t, "plan", out+errs)
	for _, want := range []string{
		"- artifact:kubelet: delete (no longer in the profile): remove /usr/local/bin/kubelet\n",
		"- unit:kubelet.service: delete (no longer in the profile): unlink /etc/systemd/system/multi-user.target.wants/kubelet.service, remove /etc/systemd/system/kubelet.service (written by nodeup), remove /etc/systemd/system/kubelet.service.d/10-nodeup.conf (written by nodeup)\n",
		"- dir:/etc/systemd/system/kubelet.service.d: delete (no longer in the profile): remove if empty\n",
		"- file:/etc/nodeup/kubelet-flags.env: delete (no longer in the profile)\n",
		" 4 to delete,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = nodeup(t, "plan", without, "--root", root, "--phase", "bake", "--json")
	var doc struct {
		Summary map[string]int `json:"summary"`
		Steps   []jsonStep     `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || doc.Summary["delete"] != 4 {
		t.Errorf("plan --json: exit %d, %v, summary %v", code, err, doc.Summary)
	}

	code, out, errs = nodeup(t, "apply", without, "--root", root, "--phase", "bake")
	if code != 0 || !strings.Contains(out, " 4 deleted,") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	for _, p := range []string{"usr/local/bin/kubelet", "etc/nodeup/kubelet-flags.env", "etc/systemd/system/kubelet.service", "etc/systemd/system/kubelet.service.d", "etc/systemd/system/multi-user.target.wants/kubelet.service"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/containerd")); err != nil {
		t.Error(err)
	}
	if code, out, errs := nodeup(t, "plan", without, "--root", root, "--phase", "bake", "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after the apply: exit %d\n%s%s", code, out, errs)
	}
}
