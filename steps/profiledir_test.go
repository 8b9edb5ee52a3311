package steps

import (
	"context"
	"slices"
	"testing"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/state"
)

// A kept profile is recorded as nodeup's, and a second bake's record holds
// only its own files; the second apply of the same profile changes nothing.
func TestProfileDirRecordsItsOwnFiles(t *testing.T) {
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Host: h, State: state.New()}
	env.State.Record("/etc/containerd/config.toml", "c0ffee")
	first := &ProfileDir{Dir: "/etc/nodeup/profile.d", Dirs: []string{"files"}, Files: []KeptFile{
		{Rel: "node.hcl", Data: []byte("a"), Mode: 0o600},
		{Rel: "files/x.conf", Data: []byte("b"), Mode: 0o600},
	}}
	second := &ProfileDir{Dir: "/etc/nodeup/profile.d", Files: []KeptFile{
		{Rel: "node.hcl", Data: []byte("c"), Mode: 0o600},
		{Rel: "nodeup.auto.vars.hcl", Data: []byte("d"), Mode: 0o600},
	}}
	ctx := context.Background()
	for _, k := range []*ProfileDir{first, second} {
		if ch, err := k.Apply(ctx, env); err != nil || !ch.Changed() {
			t.Fatalf("apply: %+v %v", ch, err)
		}
	}
	if ch, err := second.Check(ctx, env); err != nil || ch.Action != NoOp {
		t.Errorf("check after apply: %+v %v", ch, err)
	}
	snap := env.State.Snapshot()
	if len(snap.Files) != 3 || snap.Files["/etc/containerd/config.toml"] != "c0ffee" {
		t.Errorf("files recorded: %v", snap.Files)
	}
	// The kept files are owner-only, so the state holds no world-readable
	// hash of them, and knows them as nodeup's all the same.
	for _, p := range []string{"/etc/nodeup/profile.d/node.hcl", "/etc/nodeup/profile.d/nodeup.auto.vars.hcl"} {
		if sum := snap.Files[p]; !state.Private(sum) || sum == digest.Bytes([]byte("c")) || sum == digest.Bytes([]byte("d")) {
			t.Errorf("%s recorded as %q", p, sum)
		}
		if got := env.State.FileStatus(h, p); got != "as nodeup wrote it" {
			t.Errorf("%s: %s", p, got)
		}
	}
	if !slices.Contains(snap.Dirs, "/etc/nodeup/profile.d") {
		t.Errorf("directories recorded: %v", snap.Dirs)
	}
	if _, err := h.Lstat("/etc/nodeup/profile.d/files"); err == nil {
		t.Error("the first profile's files/ is still there after the second was kept")
	}
}
