package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
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
	if code := Run([]string{"plan", kept, "--root", root, "--phase", "bake", "--detailed-exitcode"}, Streams{In: strings.NewReader(""), Out: &bout, Err: &berr}, nil); code != 0 {
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

	// plan --phase bake shows the write to the profile directory: here,
	// the file a hand put there goes.
	os.WriteFile(filepath.Join(kept, "site.hcl"), []byte("node {}\n"), 0o600)
	code, out, errs = nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode")
	if code != 2 || !strings.Contains(out, "~ profile:/etc/nodeup/profile.d: update files differ") || !strings.Contains(out, "- /etc/nodeup/profile.d/site.hcl") {
		t.Errorf("plan --phase bake with a file added to the kept profile: exit %d\n%s%s", code, out, errs)
	}
	noSecret(t, "plan --phase bake", out+errs)

	// Other phases keep nothing.
	other := t.TempDir()
	if code, out, errs := nodeup(t, "plan", profile, "--root", other, "--phase", "bake"); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(other, paths.ProfileDir)); err == nil {
		t.Error("plan kept the profile")
	}
}
