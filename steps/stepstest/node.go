// Package stepstest is a test node for the steps and the engine: a temp
// root, its state, a fake systemd, a fake kernel, a fake CRI runtime and an
// HTTP mirror, with snapshots of the root to prove a step changes nothing.
package stepstest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/archive/archivetest"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/cri/critest"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/fetch/fetchtest"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/systemd/systemdtest"
	"github.com/nodeup/nodeup/state"
	"github.com/nodeup/nodeup/steps"
)

// Node is a test node: a temp dir as the root, its state, and fakes of
// everything a step talks to besides the filesystem. It is also the Run
// its steps see: Changes and Paths say what other steps did and write.
type Node struct {
	T       *testing.T
	Root    string
	Host    *host.Host
	Env     *steps.Env
	Fake    *systemdtest.Fake // nil: offline (no systemd running)
	Warns   []string
	Mu      sync.Mutex
	Changes map[string]bool      // step ID -> changed earlier in the run
	Deletes map[string]bool      // step ID -> deleted what it writes earlier in the run
	Paths   map[string][]string  // step ID -> node paths it writes
	Done    map[string]time.Time // step ID -> when it finished in the run
}

// NewNode returns a node whose Env has no systemd, no kernel and no CRI;
// tests add what they need.
func NewNode(t *testing.T) *Node {
	t.Helper()
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Load(h)
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{T: t, Root: root, Host: h, Changes: map[string]bool{}, Deletes: map[string]bool{}, Paths: map[string][]string{}, Done: map[string]time.Time{}}
	n.Env = &steps.Env{
		Host:  h,
		State: st,
		Phase: steps.PhaseAll,
		// The root is the test's own: its CNI scripts are the test's.
		RunsRootPrograms: true,
		Fetcher: &fetch.Fetcher{
			CacheDir: filepath.Join(root, "var/cache/nodeup"),
			Retries:  1,
			Backoff:  time.Millisecond,
		},
		Run:  n,
		Logf: func(format string, args ...any) { t.Logf("log: "+format, args...) },
		Warnf: func(format string, args ...any) {
			n.Mu.Lock()
			defer n.Mu.Unlock()
			n.Warns = append(n.Warns, fmt.Sprintf(format, args...))
		},
	}
	return n
}

// Changed is what the node's steps see of other steps' changes.
func (n *Node) Changed(id string) bool {
	n.Mu.Lock()
	defer n.Mu.Unlock()
	return n.Changes[id]
}

// Deleted is what the node's steps see of other steps' deletes.
func (n *Node) Deleted(id string) bool {
	n.Mu.Lock()
	defer n.Mu.Unlock()
	return n.Deletes[id]
}

// Writes is what the node's steps see of other steps' paths.
func (n *Node) Writes(id string) []string {
	n.Mu.Lock()
	defer n.Mu.Unlock()
	return n.Paths[id]
}

// Finished is what the node's steps see of when other steps finished.
func (n *Node) Finished(id string) (time.Time, bool) {
	n.Mu.Lock()
	defer n.Mu.Unlock()
	at, ok := n.Done[id]
	return at, ok
}

// Online gives the node a running (fake) systemd.
func (n *Node) Online() *systemdtest.Fake {
	n.Fake = systemdtest.NewFake()
	n.Env.Systemd = n.Fake
	return n.Fake
}

// NoPID is above the kernel's PID_MAX_LIMIT, so no process has it.
const NoPID = 1<<22 + 1

// Settle gives every active fake unit a main PID no process has. The fake
// counts PIDs up from 1001, which on the machine running the test may be
// real processes with their own start times.
func (n *Node) Settle(units ...string) {
	for _, u := range units {
		if fu := n.Fake.Unit(u); fu.ActiveState == "active" {
			fu.MainPID = NoPID
		}
	}
}

func (n *Node) Real(p string) string { return filepath.Join(n.Root, filepath.FromSlash(p)) }

func (n *Node) Write(p, content string, mode fs.FileMode) {
	n.T.Helper()
	real := n.Real(p)
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		n.T.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(content), mode); err != nil {
		n.T.Fatal(err)
	}
	if err := os.Chmod(real, mode); err != nil {
		n.T.Fatal(err)
	}
}

func (n *Node) Read(p string) string {
	n.T.Helper()
	b, err := os.ReadFile(n.Real(p))
	if err != nil {
		n.T.Fatal(err)
	}
	return string(b)
}

func (n *Node) Exists(p string) bool {
	_, err := os.Lstat(n.Real(p))
	return err == nil
}

// CheckApply runs a step's Check or, with apply, its Apply, and fails the
// test on an error.
func (n *Node) CheckApply(s steps.Step, apply bool) steps.Change {
	n.T.Helper()
	ch, err := Do(n.Env, s, apply)
	if err != nil {
		n.T.Fatalf("%s (apply=%v): %v", steps.ID(s), apply, err)
	}
	return ch
}

// Do runs a step's Check or, with apply, its Apply.
func Do(env *steps.Env, s steps.Step, apply bool) (steps.Change, error) {
	if apply {
		return s.Apply(context.Background(), env)
	}
	return s.Check(context.Background(), env)
}

// Snapshot describes every entry under root: type, mode, size, mtime,
// content hash or link target. Two equal snapshots mean nothing changed.
func Snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		desc := fmt.Sprintf("%s %d", fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %s mtime %d", digest.Bytes(b)[:12], fi.ModTime().UnixNano())
		case fi.IsDir():
			// A directory's mtime changes when an entry is added or removed.
			desc += fmt.Sprintf(" mtime %d", fi.ModTime().UnixNano())
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SameSnapshot reports the differences between two snapshots.
func SameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	var diffs []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			diffs = append(diffs, "removed "+p)
		} else if a != b {
			diffs = append(diffs, fmt.Sprintf("changed %s: %s -> %s", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "added "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s changed the host:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// SHA is the hex sha256 of b.
func SHA(b []byte) string { return digest.Bytes(b) }

// Test archives are built with archivetest.
type Entry = archivetest.Entry

var (
	Reg          = archivetest.File
	DirEntry     = archivetest.Dir
	SymlinkEntry = archivetest.Symlink
)

func Tar(t *testing.T, ents ...Entry) []byte { return archivetest.Tar(t, ents...) }

func TarGz(t *testing.T, ents ...Entry) []byte {
	return archivetest.Compress(t, archive.FormatTarGz, archivetest.Tar(t, ents...))
}

func TarZst(t *testing.T, ents ...Entry) []byte {
	return archivetest.Compress(t, archive.FormatTarZst, archivetest.Tar(t, ents...))
}

// CNIScript is a CNI plugin that answers the VERSION command.
const CNIScript = `#!/bin/sh
[ "$CNI_COMMAND" = VERSION ] || exit 1
echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'
`

// Mirror is the fake mirror of fetchtest.
type Mirror = fetchtest.Mirror

// NewMirror starts a fake mirror.
func NewMirror(t *testing.T) *Mirror { return fetchtest.NewMirror(t) }

// ServeCRI runs a fake runtime with the given handlers on a unix socket in
// a temp dir and returns the socket's path.
func ServeCRI(t *testing.T, handlers ...string) string {
	return critest.Serve(t, &critest.Runtime{Handlers: handlers, CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD})
}

// DialTo makes Env.Dial connect to sock whatever the endpoint, and counts
// the dials.
func DialTo(sock string, dials *int) func(ctx context.Context, endpoint string) (*cri.Client, error) {
	var mu sync.Mutex
	return func(ctx context.Context, endpoint string) (*cri.Client, error) {
		mu.Lock()
		*dials++
		mu.Unlock()
		return cri.Dial(ctx, "unix://"+sock)
	}
}

// FakeKernel is a kernel whose /proc, /sys and /lib/modules are temp
// dirs: overlay and br_netfilter load with a fake modprobe, which also
// makes the net.bridge sysctls appear as the real module does.
type FakeKernel struct {
	*kernel.Kernel
	mu        sync.Mutex
	modprobes []string
}

func NewKernel(t *testing.T) *FakeKernel {
	t.Helper()
	dir := t.TempDir()
	k := &FakeKernel{Kernel: &kernel.Kernel{
		ProcSys:     filepath.Join(dir, "proc/sys"),
		ProcModules: filepath.Join(dir, "proc/modules"),
		SysModule:   filepath.Join(dir, "sys/module"),
		LibModules:  filepath.Join(dir, "lib/modules"),
		Release:     "6.1.0-test",
	}}
	for _, d := range []string{k.ProcSys + "/net/ipv4", k.SysModule, filepath.Join(k.LibModules, k.Release)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(k.ProcModules, nil, 0o644)
	os.WriteFile(filepath.Join(k.ProcSys, "net/ipv4/ip_forward"), []byte("0\n"), 0o644)
	k.Modprobe = func(ctx context.Context, args ...string) ([]byte, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		name := args[len(args)-1]
		k.modprobes = append(k.modprobes, name)
		f, err := os.OpenFile(k.ProcModules, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		fmt.Fprintf(f, "%s 16384 0 - Live 0x0000000000000000\n", name)
		if name == "br_netfilter" {
			os.MkdirAll(filepath.Join(k.ProcSys, "net/bridge"), 0o755)
			for _, s := range []string{"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"} {
				os.WriteFile(filepath.Join(k.ProcSys, "net/bridge", s), []byte("0\n"), 0o644)
			}
		}
		return nil, nil
	}
	return k
}

func (k *FakeKernel) Loads() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.modprobes...)
}
