package steps_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// stampOf is node file p's stamp as it is now.
func stampOf(t *testing.T, n *stepstest.Node, p string) state.Stamp {
	t.Helper()
	fi, err := os.Stat(n.Real(p))
	if err != nil {
		t.Fatal(err)
	}
	st, ok := state.StampOf(fi)
	if !ok {
		t.Fatal("no stamp on this platform")
	}
	return st
}

// A file whose stamp is the one recorded is not read again: with a
// recorded sha256 that its content does not have, only a hash could tell,
// and the check says no-op.
func TestArtifactCheckTrustsAnUnchangedStamp(t *testing.T) {
	n, a := runcNode(t)
	const p = "/usr/local/sbin/runc"
	n.Env.State.Record(p, strings.Repeat("0", 64)) // drops the stamp: other content
	rec, _ := n.Env.State.Artifact("runc")
	rec.Members = map[string]string{p: strings.Repeat("0", 64)}
	n.Env.State.PutArtifact("runc", rec, true)
	if ch := n.CheckApply(a, false); ch.Action != steps.Update {
		t.Fatalf("without a stamp the file is hashed: %+v, want update", ch)
	}
	n.Env.State.RecordStamp(p, stampOf(t, n, p))
	if ch := n.CheckApply(a, false); ch.Action != steps.NoOp {
		t.Errorf("with its stamp recorded the file is not hashed: %+v, want no-op", ch)
	}
}

// A state without stamps (an older nodeup's) costs one hash per file: a
// match records the stamp, so the next check reads nothing.
func TestArtifactCheckRecordsTheStampOfAMatch(t *testing.T) {
	n, a := runcNode(t)
	const p = "/usr/local/sbin/runc"
	st := stampOf(t, n, p)
	if !n.Env.State.Unchanged(p, st) {
		t.Fatal("the install did not record the file's stamp")
	}
	sum, _ := n.Env.State.Lookup(p)
	n.Env.State.Forget(p)
	n.Env.State.Record(p, sum)
	if n.Env.State.Unchanged(p, st) {
		t.Fatal("Forget kept the stamp")
	}
	if ch := n.CheckApply(a, false); ch.Action != steps.NoOp {
		t.Fatalf("check: %+v", ch)
	}
	if !n.Env.State.Unchanged(p, st) {
		t.Errorf("a hash that matched recorded no stamp")
	}
}

// backdate records p's stamp as it would have been taken a second before
// now: an edit after it moves the ctime past the recorded one even where
// ctimes are coarse (state.Stamp says what a same-tick edit can do).
func backdate(t *testing.T, n *stepstest.Node, p string) {
	t.Helper()
	st := stampOf(t, n, p)
	st.CTime -= int64(time.Second)
	n.Env.State.RecordStamp(p, st)
}

// sameSizeMTimeBack rewrites one byte of node file p and puts its mtime
// back, as a tool that keeps times would.
func sameSizeMTimeBack(t *testing.T, n *stepstest.Node, p string) {
	t.Helper()
	fi, err := os.Stat(n.Real(p))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(n.Real(p))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(n.Real(p), b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(n.Real(p), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(n.Real(p)); after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("size and mtime not kept: %v %v, were %v %v", after.Size(), after.ModTime(), fi.Size(), fi.ModTime())
	}
}

// What a stamp cannot hide: content rewritten with the same size and the
// old mtime put back (the ctime moves), and another file renamed over it
// (another inode).
func TestArtifactCheckSeesChangesBehindTheStamp(t *testing.T) {
	const p = "/usr/local/sbin/runc"
	for name, change := range map[string]func(t *testing.T, n *stepstest.Node, a *steps.Artifact){
		"same size, mtime put back": func(t *testing.T, n *stepstest.Node, a *steps.Artifact) {
			backdate(t, n, p)
			if ch := n.CheckApply(a, false); ch.Action != steps.NoOp {
				t.Fatalf("before the edit: %+v", ch)
			}
			backdate(t, n, p) // the check above, having hashed, stamped it anew
			sameSizeMTimeBack(t, n, p)
		},
		"renamed over": func(t *testing.T, n *stepstest.Node, _ *steps.Artifact) {
			fi, _ := os.Stat(n.Real(p))
			b, _ := os.ReadFile(n.Real(p))
			b[len(b)-1] ^= 1
			if err := os.WriteFile(n.Real(p)+".new", b, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(n.Real(p)+".new", fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(n.Real(p)+".new", n.Real(p)); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			n, a := runcNode(t)
			change(t, n, a)
			ch := n.CheckApply(a, false)
			if ch.Action != steps.Update || !strings.Contains(ch.Reason, p+" was changed since nodeup installed it") {
				t.Errorf("check: %+v, want the change seen", ch)
			}
		})
	}
}

// kataShim is the regular file of the kata-like tree the tree tests edit.
const kataShim = "/opt/kata/bin/containerd-shim-kata-v2"

// setShimEntry rewrites the recorded tree entry of kataShim.
func setShimEntry(t *testing.T, n *stepstest.Node, edit func(e *state.TreeEntry)) {
	t.Helper()
	rec, ok := n.Env.State.Tree("/opt/kata")
	if !ok {
		t.Fatal("no tree recorded")
	}
	e := rec["bin/containerd-shim-kata-v2"]
	edit(&e)
	rec["bin/containerd-shim-kata-v2"] = e
	n.Env.State.RecordTree("/opt/kata", rec)
}

// A tree member is trusted by its stamp like an installed file, and seen
// when it is edited behind its mtime.
func TestArtifactTreeCheckTrustsItsStampsOnly(t *testing.T) {
	n, a := kataNode(t)
	setShimEntry(t, n, func(e *state.TreeEntry) { e.SHA256 = strings.Repeat("0", 64) })
	if ch := n.CheckApply(a, false); ch.Action != steps.NoOp {
		t.Fatalf("a member with its stamp recorded is not hashed: %+v, want no-op", ch)
	}

	n, a = kataNode(t)
	setShimEntry(t, n, func(e *state.TreeEntry) { e.CTime -= int64(time.Second) })
	sameSizeMTimeBack(t, n, kataShim)
	if ch := n.CheckApply(a, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, kataShim+" was changed since nodeup installed it") {
		t.Errorf("check after an edit behind the mtime: %+v, want the change seen", ch)
	}
}

// An older nodeup recorded tree members with size and mtime only: those
// vouch for nothing, so an edit behind them is seen, and an unchanged
// member is hashed once and stamped.
func TestArtifactTreeEntryWithoutCTime(t *testing.T) {
	n, a := kataNode(t)
	setShimEntry(t, n, func(e *state.TreeEntry) { e.CTime, e.Inode = 0, 0 })
	sameSizeMTimeBack(t, n, kataShim)
	if ch := n.CheckApply(a, false); ch.Action != steps.Update || !strings.Contains(ch.Reason, kataShim+" was changed since nodeup installed it") {
		t.Errorf("check after an edit behind the mtime: %+v, want the change seen", ch)
	}

	n, a = kataNode(t)
	setShimEntry(t, n, func(e *state.TreeEntry) { e.CTime, e.Inode = 0, 0 })
	if ch := n.CheckApply(a, false); ch.Action != steps.NoOp {
		t.Fatalf("check: %+v", ch)
	}
	rec, _ := n.Env.State.Tree("/opt/kata")
	if e := rec["bin/containerd-shim-kata-v2"]; e.Stamp != stampOf(t, n, kataShim) {
		t.Errorf("the member hashed and found unchanged was not stamped: %+v, the file is %+v", e.Stamp, stampOf(t, n, kataShim))
	}
}
