package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/engine/state"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
)

func dirNames(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// --phase bake keeps the profile and the values given at bake time in the
// image's profile directory, so the boot applies it with no flags; a new
// bake replaces the directory rather than adding to it.
func TestBakeKeepsProfileAndValues(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	kept := filepath.Join(root, paths.ProfileDir)

	code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake")
	if code != 0 {
		t.Fatalf("bake: exit %d\n%s%s", code, out, errs)
	}
	noSecret(t, "bake", out+errs)
	if !strings.Contains(out, "Profile kept in /etc/nodeup/profile.d, with the values given now in /etc/nodeup/profile.d/nodeup.auto.vars.hcl") {
		t.Errorf("bake output:\n%s", out)
	}
	if got := dirNames(t, kept); got != "node.hcl nodeup.auto.vars.hcl" {
		t.Errorf("profile directory holds %s", got)
	}
	src, _ := os.ReadFile(profile)
	if got, _ := os.ReadFile(filepath.Join(kept, "node.hcl")); !bytes.Equal(got, src) {
		t.Errorf("kept profile differs from the baked one")
	}
	vars, _ := os.ReadFile(filepath.Join(kept, "nodeup.auto.vars.hcl"))
	if !strings.Contains(string(vars), "bootstrap_token = ") || !strings.Contains(string(vars), `s3cr3t&<boot\"strap>$x%y`) {
		t.Errorf("kept values:\n%s", vars)
	}
	for _, p := range []string{kept, filepath.Join(kept, "nodeup.auto.vars.hcl"), filepath.Join(kept, "node.hcl")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v %v: want no access for group and others", p, fi.Mode(), err)
		}
	}

	// At boot, nothing is given: the kept values are read by default.
	var bout, berr bytes.Buffer
	if code := Run([]string{"plan", kept, "--root", root, "--detailed-exitcode"}, Streams{In: strings.NewReader(""), Out: &bout, Err: &berr}, nil); code != 0 {
		t.Errorf("plan of the kept profile with no values given: exit %d\n%s%s", code, bout.String(), berr.String())
	}

	// A new bake replaces the directory: nothing of the old one stays.
	os.WriteFile(filepath.Join(kept, "old.hcl"), []byte("node {}\n"), 0o600)
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("second bake: exit %d\n%s%s", code, out, errs)
	}
	if got := dirNames(t, kept); got != "node.hcl nodeup.auto.vars.hcl" {
		t.Errorf("after a second bake the profile directory holds %s", got)
	}
	// Baking the kept directory itself with a new value keeps both.
	if code, out, errs := nodeup(t, "apply", kept, "--root", root, "--phase", "bake", "--var", "bootstrap_token=s3cr3t-new"); code != 0 {
		t.Fatalf("bake of the kept directory: exit %d\n%s%s", code, out, errs)
	}
	vars, _ = os.ReadFile(filepath.Join(kept, "nodeup.auto.vars.hcl"))
	if got := dirNames(t, kept); got != "node.hcl nodeup.auto.vars.hcl" || !strings.Contains(string(vars), `"s3cr3t-new"`) {
		t.Errorf("after baking the kept directory: %s\n%s", got, vars)
	}
	if got := dirNames(t, filepath.Dir(kept)); strings.Contains(got, ".nodeup") {
		t.Errorf("staging directories left in /etc/nodeup: %s", got)
	}

	// Other phases keep nothing.
	other := t.TempDir()
	if code, out, errs := nodeup(t, "plan", profile, "--root", other); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(other, paths.ProfileDir)); err == nil {
		t.Error("plan kept the profile")
	}
}

// A kept profile is recorded as nodeup's, and a second bake's record holds
// only its own files.
func TestRecordProfileDir(t *testing.T) {
	st := state.New()
	st.Record("/etc/containerd/config.toml", "c0ffee")
	recordProfileDir(st, "/etc/nodeup/profile.d", []plan.SnapshotFile{
		{Rel: "node.hcl", Data: []byte("a")},
		{Rel: "files/x.conf", Data: []byte("b")},
	})
	recordProfileDir(st, "/etc/nodeup/profile.d", []plan.SnapshotFile{
		{Rel: "node.hcl", Data: []byte("c"), Mode: 0o644},
		{Rel: "nodeup.auto.vars.hcl", Data: []byte("d"), Mode: 0o600},
	})
	snap := st.Snapshot()
	want := map[string]string{
		"/etc/containerd/config.toml":                "c0ffee",
		"/etc/nodeup/profile.d/node.hcl":             digest.Bytes([]byte("c")),
		"/etc/nodeup/profile.d/nodeup.auto.vars.hcl": snap.Files["/etc/nodeup/profile.d/nodeup.auto.vars.hcl"],
	}
	// A file only its owner reads is recorded by a keyed mark, never its
	// sha256: state.json is world-readable.
	if sum := want["/etc/nodeup/profile.d/nodeup.auto.vars.hcl"]; !state.Private(sum) || strings.Contains(sum, digest.Bytes([]byte("d"))) {
		t.Errorf("the 0600 vars file is recorded as %q", sum)
	}
	if len(snap.Files) != len(want) {
		t.Errorf("files recorded: %v, want %v", snap.Files, want)
	}
	for p, sum := range want {
		if snap.Files[p] != sum {
			t.Errorf("%s recorded as %q, want %q", p, snap.Files[p], sum)
		}
	}
	if !slices.Contains(snap.Dirs, "/etc/nodeup/profile.d") {
		t.Errorf("directories recorded: %v", snap.Dirs)
	}
}
