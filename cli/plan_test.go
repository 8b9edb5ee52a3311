package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snapshot lists every path under root with its mode, size and time.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b.WriteString(rel + " " + fi.Mode().String() + " " + fi.ModTime().Format(time.RFC3339Nano))
		if !fi.IsDir() {
			b.WriteString(" " + strconv.FormatInt(fi.Size(), 10))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

// plan changes nothing under the root: no cache directory, no lock, no
// state, before an apply and after one.
func TestPlanTouchesNothing(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	before := snapshot(t, root)
	if code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("plan of an empty root changed it:\n%s", after)
	}
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	// Drift, so the plan has something to say.
	os.WriteFile(filepath.Join(root, "etc/containerd/config.toml"), []byte("edited\n"), 0o644)
	os.Chmod(filepath.Join(root, "usr/local/bin/containerd"), 0o644)
	before = snapshot(t, root)
	code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("plan after drift: exit %d\n%s%s", code, out, errs)
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("plan after apply changed the root")
	}
	// A file nodeup wrote and someone edited is not called someone else's.
	if !strings.Contains(out, "~ file:/etc/containerd/config.toml: update content differs; changed since nodeup wrote it: the edited file is backed up under /var/lib/nodeup/backup") {
		t.Errorf("plan after an edit:\n%s", out)
	}
}

// apply on this machine's / as another user than root is told to use
// root before anything is read: the profile here does not even exist.
func TestApplyAsNonRoot(t *testing.T) {
	var out, errb bytes.Buffer
	user := system{euid: func() int { return 1000 }}
	code := runWith([]string{"apply", "/nonexistent/node.hcl"}, Streams{Out: &out, Err: &errb}, nil, user)
	if code != 1 || !strings.Contains(errb.String(), "nodeup apply changes this machine (/usr/local, /etc, systemd) and must run as root: run sudo nodeup apply") || strings.Contains(errb.String(), "nonexistent") {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
	// Under --root, an image a user may own, it goes on.
	errb.Reset()
	code = runWith([]string{"apply", "/nonexistent/node.hcl", "--root", t.TempDir(), "--phase", "bake"}, Streams{Out: &out, Err: &errb}, nil, user)
	if code != 1 || strings.Contains(errb.String(), "must run as root") || !strings.Contains(errb.String(), "nonexistent") {
		t.Errorf("--root: exit %d\n%s", code, errb.String())
	}
	// plan needs no root.
	errb.Reset()
	code = runWith([]string{"plan", "../profiles/default.hcl", "--root", t.TempDir(), "--phase", "bake"}, Streams{Out: &out, Err: &errb}, nil, user)
	if code != 0 {
		t.Errorf("plan as a user: exit %d\n%s", code, errb.String())
	}
}
