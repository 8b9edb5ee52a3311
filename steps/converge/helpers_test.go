package converge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/archive/archivetest"
	"github.com/nodeup/nodeup/node/cri"
	"github.com/nodeup/nodeup/node/cri/critest"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/systemd"
	"github.com/nodeup/nodeup/steps"
)

// node is a test node: a temp dir as the root, its state, and fakes of
// everything a step talks to besides the filesystem.
type node struct {
	t      *testing.T
	root   string
	h      *host.Host
	env    *Env
	fake   *systemd.Fake // nil: offline (no systemd running)
	warns  []string
	mu     sync.Mutex
	change map[string]bool // what env.Changed reports outside Run
}

// newNode returns a node whose Env has no systemd, no kernel and no CRI;
// tests add what they need.
func newNode(t *testing.T) *node {
	t.Helper()
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	state, err := host.LoadState(h)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, root: root, h: h, change: map[string]bool{}}
	n.env = &Env{
		Host:  h,
		State: state,
		Phase: PhaseAll,
		Fetcher: &fetch.Fetcher{
			CacheDir: filepath.Join(root, "var/cache/nodeup"),
			Retries:  1,
			Backoff:  time.Millisecond,
		},
		Changed: func(id string) bool { n.mu.Lock(); defer n.mu.Unlock(); return n.change[id] },
		Action:  func(string) steps.Action { return nil },
		Logf:    func(format string, args ...any) { t.Logf("log: "+format, args...) },
		Warnf: func(format string, args ...any) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.warns = append(n.warns, fmt.Sprintf(format, args...))
		},
	}
	return n
}

// online gives the node a running (fake) systemd.
func (n *node) online() *systemd.Fake {
	n.fake = systemd.NewFake()
	n.env.Systemd = n.fake
	return n.fake
}

// noPID is above the kernel's PID_MAX_LIMIT, so no process has it.
const noPID = 1<<22 + 1

// settle gives every active fake unit a main PID no process has. The fake
// counts PIDs up from 1001, which on the machine running the test may be
// real processes with their own start times.
func (n *node) settle(units ...string) {
	for _, u := range units {
		if fu := n.fake.Unit(u); fu.ActiveState == "active" {
			fu.MainPID = noPID
		}
	}
}

func (n *node) real(p string) string { return filepath.Join(n.root, filepath.FromSlash(p)) }

func (n *node) write(p, content string, mode fs.FileMode) {
	n.t.Helper()
	real := n.real(p)
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(content), mode); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Chmod(real, mode); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) read(p string) string {
	n.t.Helper()
	b, err := os.ReadFile(n.real(p))
	if err != nil {
		n.t.Fatal(err)
	}
	return string(b)
}

func (n *node) exists(p string) bool {
	_, err := os.Lstat(n.real(p))
	return err == nil
}

// checkApply runs CheckApply and fails the test on an error.
func (n *node) checkApply(a steps.Action, apply bool) Change {
	n.t.Helper()
	ch, err := CheckApply(context.Background(), n.env, a, apply)
	if err != nil {
		n.t.Fatalf("CheckApply(%s, apply=%v): %v", steps.ID(a), apply, err)
	}
	return ch
}

// snapshot describes every entry under root: type, mode, size, mtime,
// content hash or link target. Two equal snapshots mean nothing changed.
func snapshot(t *testing.T, root string) map[string]string {
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
			desc += fmt.Sprintf(" %s mtime %d", sum(b)[:12], fi.ModTime().UnixNano())
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

// sameSnapshot reports the differences between two snapshots.
func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
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

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Test archives are built with archivetest.
type entry = archivetest.Entry

var (
	reg          = archivetest.File
	dirEntry     = archivetest.Dir
	symlinkEntry = archivetest.Symlink
)

func makeTar(t *testing.T, ents ...entry) []byte { return archivetest.Tar(t, ents...) }

func tarGz(t *testing.T, ents ...entry) []byte {
	return archivetest.Compress(t, steps.FormatTarGz, archivetest.Tar(t, ents...))
}

func tarZst(t *testing.T, ents ...entry) []byte {
	return archivetest.Compress(t, steps.FormatTarZst, archivetest.Tar(t, ents...))
}

// cniScript is a CNI plugin that answers the VERSION command.
const cniScript = `#!/bin/sh
[ "$CNI_COMMAND" = VERSION ] || exit 1
echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'
`

// mirror is an HTTP server laid out as a nodeup mirror (M/HOST/PATH).
type mirror struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte // URL path -> content
	hits  map[string]int
}

func newMirror(t *testing.T) *mirror {
	m := &mirror{files: map[string][]byte{}, hits: map[string]int{}}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		b, ok := m.files[r.URL.Path]
		m.hits[r.URL.Path]++
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

// put serves content as the mirror copy of upstream URL and returns the
// content's sha256.
func (m *mirror) put(upstream string, content []byte) string {
	u := strings.TrimPrefix(strings.TrimPrefix(upstream, "https://"), "http://")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files["/"+u] = content
	return sha(content)
}

func (m *mirror) requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, h := range m.hits {
		n += h
	}
	return n
}

// serveCRI runs a fake runtime with the given handlers on a unix socket in
// a temp dir and returns the socket's path.
func serveCRI(t *testing.T, handlers ...string) string {
	return critest.Serve(t, &critest.Runtime{Handlers: handlers, CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD})
}

// dialTo makes Env.Dial connect to sock whatever the endpoint, and counts
// the dials.
func dialTo(sock string, dials *int) func(ctx context.Context, endpoint string) (*cri.Client, error) {
	var mu sync.Mutex
	return func(ctx context.Context, endpoint string) (*cri.Client, error) {
		mu.Lock()
		*dials++
		mu.Unlock()
		return cri.Dial(ctx, "unix://"+sock)
	}
}

// fakeKernel is a kernel whose /proc, /sys and /lib/modules are temp
// dirs: overlay and br_netfilter load with a fake modprobe, which also
// makes the net.bridge sysctls appear as the real module does.
type fakeKernel struct {
	*kernel.Kernel
	mu        sync.Mutex
	modprobes []string
}

func newKernel(t *testing.T) *fakeKernel {
	t.Helper()
	dir := t.TempDir()
	k := &fakeKernel{Kernel: &kernel.Kernel{
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

func (k *fakeKernel) loads() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.modprobes...)
}
