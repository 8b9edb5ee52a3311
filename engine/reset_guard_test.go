package engine

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// Reset works from state.json, which anyone with root may have edited: it
// removes only what nodeup could have written (paths.Writable), and leaves
// a directory that is now a link. Whatever the state lists, nothing else of
// the node is removed.
func TestResetRemovesOnlyWhatNodeupCouldHaveWritten(t *testing.T) {
	n := stepstest.NewNode(t)
	passwd := "root:x:0:0:root:/root:/bin/sh\n"
	n.Write("/etc/passwd", passwd, 0o644)
	n.Write("/usr/local/bin/../../../etc/shadow", "secret\n", 0o600)
	n.Write("/srv/data/keep", "x", 0o644)
	n.Write("/usr/local/bin/containerd", "bin", 0o755)
	for _, d := range []string{"/var/empty", "/home/empty", "/opt/cni/was-a-dir-target"} {
		os.MkdirAll(n.Real(d), 0o755)
	}
	os.MkdirAll(n.Real("/opt/cni"), 0o755)
	os.Symlink("/opt/cni/was-a-dir-target", n.Real("/opt/cni/net"))

	st := n.Env.State
	st.Record("/etc/passwd", digest.Bytes([]byte(passwd)))
	st.Record("/usr/local/bin/../../../etc/shadow", digest.Bytes([]byte("secret\n")))
	st.Record("/usr/local/bin/containerd", digest.Bytes([]byte("bin")))
	st.RecordTree("/", state.Tree{"srv/data/keep": {SHA256: digest.Bytes([]byte("x"))}})
	st.RecordTree("/opt/kata", state.Tree{"../../srv/data/keep": {SHA256: digest.Bytes([]byte("x"))}})
	for _, d := range []string{"/", "/var", "/home/", "/opt/cni/net"} {
		st.RecordDir(d)
	}

	p, err := PlanReset(context.Background(), n.Env, ResetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := actions(p)
	for _, want := range []string{"keep /etc/passwd", "keep /etc/shadow", "keep /", "keep /srv/data/keep", "keep /opt/cni/net", "remove /usr/local/bin/containerd"} {
		if !slices.Contains(got, want) {
			t.Errorf("plan lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/passwd", "/etc/shadow", "/srv/data/keep", "/var/empty", "/home/empty"} {
		if !n.Exists(p) {
			t.Errorf("reset removed %s", p)
		}
	}
	if fi, err := os.Lstat(n.Real("/opt/cni/net")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("reset removed the link an admin put where nodeup made a directory: %v", err)
	}
	if n.Exists("/usr/local/bin/containerd") {
		t.Error("reset left what nodeup installed")
	}
}
