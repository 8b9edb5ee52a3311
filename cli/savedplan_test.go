package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// nodeSnapshot is what the root holds, but the lock file, which every
// apply takes whether or not it changes anything.
func nodeSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	snap := stepstest.Snapshot(t, root)
	for p := range snap {
		if p == "run" || strings.HasPrefix(p, "run/") {
			delete(snap, p)
		}
	}
	return snap
}

// savedPlan makes a plan of the profile for the root with --out and
// returns the plan file.
func savedPlan(t *testing.T, profile, root string, env []string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "node.plan")
	code, out, errs := runEnv(t, env, "plan", profile, "--root", root, "--phase", "bake", "--out", file)
	if code != 0 || !strings.Contains(out, "Saved this plan to "+file) {
		t.Fatalf("plan --out: exit %d\n%s%s", code, out, errs)
	}
	noSecret(t, "plan --out", out+errs)
	return file
}

// A saved plan applies what plan --json said, with no profile and no
// flags; the same plan applied again is refused: the node moved (it was
// applied).
func TestSavedPlanApplied(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	file := filepath.Join(t.TempDir(), "node.plan")

	code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--out", file, "--json", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("plan --out --detailed-exitcode with changes: exit %d\n%s%s", code, out, errs)
	}
	noSecret(t, "plan --out --json", out+errs)
	planned := parseJSON(t, "plan --json", out)
	var saved struct {
		SavedPlan string `json:"saved_plan"`
	}
	json.Unmarshal([]byte(out), &saved)
	if saved.SavedPlan != file {
		t.Errorf("plan --json names the saved plan %q, want %q", saved.SavedPlan, file)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the plan file is %v, want 0600: it holds the values given", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("plan --out wrote under the root: %v", entries)
	}

	// Applied elsewhere: the profile is gone, --root and --phase are the
	// plan's, and the plan's values win over NODEUP_VAR_* as a profile
	// directory's do.
	if err := os.RemoveAll(filepath.Dir(profile)); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runEnv(t, []string{"NODEUP_VAR_bootstrap_token=other"}, "apply", file, "--json")
	if code != 0 {
		t.Fatalf("apply FILE --json: exit %d\n%s%s", code, out, errs)
	}
	noSecret(t, "apply FILE --json", out+errs)
	applied := parseJSON(t, "apply FILE --json", out)
	if len(applied.Steps) != len(planned.Steps) {
		t.Fatalf("apply has %d steps, the plan %d", len(applied.Steps), len(planned.Steps))
	}
	for i, s := range applied.Steps {
		p := planned.Steps[i]
		if s.ID != p.ID || s.Action != p.Action || s.Result != "ok" || s.Source != p.Source {
			t.Errorf("step %d: applied %+v, planned %+v", i, s, p)
		}
	}
	env, _ := os.ReadFile(filepath.Join(root, paths.KubeletSecretFlags))
	if !strings.Contains(string(env), secretInEnv) {
		t.Errorf("the kubelet's environment file lacks the secret the plan carried:\n%s", env)
	}

	before := nodeSnapshot(t, root)
	code, out, errs = runEnv(t, nil, "apply", file)
	if code != 1 || !strings.Contains(errs, "the node changed since this plan was made: ") || !strings.Contains(errs, paths.StateFile) ||
		!strings.Contains(errs, "; run nodeup plan again") {
		t.Errorf("a plan applied twice: exit %d\n%s%s", code, out, errs)
	}
	stepstest.SameSnapshot(t, "the refused apply", before, nodeSnapshot(t, root))
}

// A file edited by hand between the plan and its apply: the apply refuses,
// names the file and changes nothing.
func TestSavedPlanRefusedAfterHandEdit(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	// A plan with a change: the token was rotated.
	rotated := []string{"NODEUP_VAR_bootstrap_token=s3cr3t-rotated"}
	file := savedPlan(t, profile, root, rotated)

	config := filepath.Join(root, "etc/containerd/config.toml")
	if err := os.WriteFile(config, []byte("version = 3\n# edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := nodeSnapshot(t, root)
	code, out, errs := runEnv(t, rotated, "apply", file)
	want := "the node changed since this plan was made: /etc/containerd/config.toml; run nodeup plan again"
	if code != 1 || !strings.Contains(errs, want) || out != "" {
		t.Errorf("apply FILE after a hand edit: exit %d, want an error with %q\n%s%s", code, want, out, errs)
	}
	noSecret(t, "the refusal", out+errs)
	t.Logf("$ nodeup apply %s\n%s", filepath.Base(file), errs)
	stepstest.SameSnapshot(t, "the refused apply", before, nodeSnapshot(t, root))

	// --json says the same in its document.
	code, out, _ = runEnv(t, rotated, "apply", file, "--json")
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("apply FILE --json after a hand edit: exit %d\n%s", code, out)
	}
}

// An input that moved between the plan and its apply: the profile where
// plan read it, a value given, the plan file itself, nodeup, the phase.
func TestSavedPlanRefusedAfterInputChange(t *testing.T) {
	cases := []struct {
		name  string
		move  func(t *testing.T, profile, file string) (env, args []string)
		want  string
		plain bool // the message names no path of the test
	}{{
		name: "profile edited",
		move: func(t *testing.T, profile, _ string) ([]string, []string) {
			b, _ := os.ReadFile(profile)
			os.WriteFile(profile, []byte(strings.Replace(string(b), "role=worker", "role=edge", 1)), 0o644)
			return environ, nil
		},
		want: "the profile changed since this plan was made: PROFILE; run nodeup plan again",
	}, {
		name: "value given by --var",
		move: func(*testing.T, string, string) ([]string, []string) {
			return nil, []string{"--var", "bootstrap_token=s3cr3t-other"}
		},
		want: "the values given changed since this plan was made: bootstrap_token; run nodeup plan again",
	}, {
		name: "plan file edited",
		move: func(t *testing.T, _, file string) ([]string, []string) {
			editPlan(t, file, func(p map[string]any) {
				f := p["profile"].(map[string]any)["files"].([]any)[0].(map[string]any)
				f["data"] = "bm90IGEgcHJvZmlsZQ==" // "not a profile"
			})
			return nil, nil
		},
		want: "the profile changed since this plan was made: node.hcl (edited in the plan file); run nodeup plan again",
	}, {
		name: "another nodeup",
		move: func(t *testing.T, _, file string) ([]string, []string) {
			editPlan(t, file, func(p map[string]any) { p["nodeup_version"] = "v0.0.1" })
			return nil, nil
		},
		want: "this plan was made by nodeup v0.0.1 and this is nodeup dev",
	}, {
		name: "another phase",
		move: func(*testing.T, string, string) ([]string, []string) {
			return nil, []string{"--phase", "all"}
		},
		want: "this plan was made for --phase bake, not all",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			profile := testProfile(t)
			root := t.TempDir()
			file := savedPlan(t, profile, root, environ)
			env, args := c.move(t, profile, file)
			code, out, errs := runEnv(t, env, append([]string{"apply", file}, args...)...)
			want := strings.ReplaceAll(c.want, "PROFILE", profile)
			if code != 1 || !strings.Contains(errs, want) {
				t.Errorf("exit %d, want an error with %q\n%s%s", code, want, out, errs)
			}
			noSecret(t, "the refusal", out+errs)
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("the refused apply wrote under the root: %v", entries)
			}
		})
	}
}

// editPlan changes a saved plan's JSON in place.
func editPlan(t *testing.T, file string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	b, _ = json.Marshal(p)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A saved plan is not a profile, and a plan that could not be checked is
// not saved.
func TestSavedPlanMisuse(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	file := savedPlan(t, profile, root, environ)
	if code, out, errs := nodeup(t, "plan", file); code != 1 || !strings.Contains(errs, "is a saved plan, not a profile: nodeup apply "+file+" applies it") {
		t.Errorf("plan FILE: exit %d\n%s%s", code, out, errs)
	}

	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/containerd"), []byte("not a directory"), 0o644)
	failed := filepath.Join(t.TempDir(), "failed.plan")
	code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--out", failed)
	if code != 1 || !strings.Contains(errs, "the plan was not saved to "+failed) {
		t.Errorf("plan --out with a step that cannot be checked: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(failed); err == nil {
		t.Errorf("a plan that could not be checked was saved")
	}
}
