package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configure a node.
type Options struct {
	// Name is the machine name (and hostname inside); default: from the test name.
	Name string
	// Binds are host paths mounted into the node, e.g. the mirror or a nodeup binary.
	Binds []Bind
	// HostNetwork shares the host's network namespace. By default a node has its own,
	// with only lo, so what nodeup does to interfaces, sysctls or iptables stays inside.
	HostNetwork bool
	// BootTimeout bounds the wait for systemd to finish booting; default 60s.
	BootTimeout time.Duration
	// Rootfs is the tree the node's root overlays; default Rootfs(t). See
	// CloudRootfs. A test that needs more software (another tool to compare
	// nodeup with) boots a copy of it with that software installed.
	Rootfs string
}

// Bind mounts Host at Node inside the node.
type Bind struct {
	Host, Node string
	ReadOnly   bool
}

// NodeMirrorDir is where MirrorBind mounts the mirror inside a node.
const NodeMirrorDir = "/srv/mirror"

// MirrorBind mounts the artifact mirror read-only at NodeMirrorDir, so a profile can use
// mirror { urls = ["file:///srv/mirror"] }.
func MirrorBind(t testing.TB) Bind {
	t.Helper()
	return Bind{Host: Mirror(t), Node: NodeMirrorDir, ReadOnly: true}
}

// Node is a systemd machine in a container. Call its methods from the test that created it.
type Node struct {
	Name string
	// Dir holds the node's files on the host: root/ (its /, an overlay whose changes
	// are in upper/), console.log, pids.
	Dir string

	t    testing.TB
	opts Options

	mu      sync.Mutex
	nspawn  *exec.Cmd
	exited  chan struct{} // closed when nspawn has exited
	pid     int           // the node's PID 1 as the host sees it; 0 when not running
	destroy sync.Once
}

// Boot creates a node and starts it: Create, then Start.
func Boot(t testing.TB, opts Options) *Node {
	t.Helper()
	n := Create(t, opts)
	n.Start()
	return n
}

// Create makes a fresh root for a node (an overlay over the cached rootfs) without
// booting it, so a test can prepare it first (e.g. nodeup apply --phase bake --root n.Root()). The node
// is torn down and its files removed when the test ends.
func Create(t testing.TB, opts Options) *Node {
	t.Helper()
	rootfs := opts.Rootfs
	if rootfs == "" {
		rootfs = Rootfs(t)
	}
	nodes := filepath.Join(Cache(), "nodes")
	if err := reapStale(nodes); err != nil {
		t.Logf("testbed: reaping stale nodes: %v", err)
	}
	if opts.Name == "" {
		opts.Name = machineName(t.Name())
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 60 * time.Second
	}
	for _, b := range opts.Binds {
		// nspawn's --bind syntax separates the paths with ':'.
		if strings.Contains(b.Host+b.Node, ":") || !filepath.IsAbs(b.Node) {
			t.Fatalf("testbed: bind %q -> %q: paths must be absolute and free of ':'", b.Host, b.Node)
		}
	}
	n := &Node{Name: opts.Name, Dir: filepath.Join(nodes, opts.Name), t: t, opts: opts}
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Registered before anything can fail, so a half-made node is removed too.
	track(n)
	t.Cleanup(n.cleanup)
	if err := n.writePids(0, 0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := n.mountRoot(rootfs); err != nil {
		t.Fatalf("testbed: node %s: %v", n.Name, err)
	}
	t.Logf("testbed: node %s: root mounted in %s", n.Name, time.Since(start).Round(time.Millisecond))
	return n
}

// scratchDirs are node paths that must not be on overlayfs: containerd keeps its own
// overlayfs snapshots there, and overlayfs cannot use an overlay as its upper layer.
var scratchDirs = []string{"/var/lib/containerd"}

// mountRoot mounts the node's root as an overlay over the cached rootfs (a copy of its
// 9000 files takes 1 s on an idle machine and 10+ s on a busy one; the mount takes
// milliseconds), with plain directories bound at scratchDirs. The mounts are in the
// host's mount namespace, so they are there before boot too; nspawn carries them in.
func (n *Node) mountRoot(rootfs string) error {
	upper, work := filepath.Join(n.Dir, "upper"), filepath.Join(n.Dir, "work")
	for _, d := range []string{upper, work, n.Root()} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + rootfs + ",upperdir=" + upper + ",workdir=" + work
	if err := syscall.Mount("overlay", n.Root(), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay %s: %w", opts, err)
	}
	for _, p := range scratchDirs {
		src := filepath.Join(n.Dir, "scratch", strings.ReplaceAll(strings.Trim(p, "/"), "/", "-"))
		dst := filepath.Join(n.Root(), p)
		if err := errors.Join(os.MkdirAll(src, 0o711), os.MkdirAll(dst, 0o711)); err != nil {
			return err
		}
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s at %s: %w", src, dst, err)
		}
	}
	return nil
}

// machineName turns a test name into a unique valid machine name (a hostname label).
func machineName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if len(name) > 40 {
		name = strings.TrimSuffix(name[:40], "-")
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	return strings.TrimPrefix(name+"-"+hex.EncodeToString(suffix), "-")
}

// Root is the host directory holding the node's root filesystem. While the node runs,
// Path sees more (its /run and /tmp are mounts inside the node).
func (n *Node) Root() string { return filepath.Join(n.Dir, "root") }

// Path is the host path under which the node's path p is visible: through
// /proc/PID/root while the node runs (so /run/containerd/containerd.sock works), under
// Root() otherwise. Absolute symlinks inside the node are not resolved against its root.
func (n *Node) Path(p string) string {
	n.mu.Lock()
	pid := n.pid
	n.mu.Unlock()
	if pid == 0 {
		return filepath.Join(n.Root(), p)
	}
	return filepath.Join("/proc", strconv.Itoa(pid), "root", p)
}

// Start boots the node and waits until systemd reports running or degraded.
func (n *Node) Start() {
	n.t.Helper()
	n.mu.Lock()
	running := n.pid != 0
	n.mu.Unlock()
	if running {
		n.t.Fatalf("testbed: node %s is already running", n.Name)
	}
	start := time.Now()
	if err := n.startNspawn(); err != nil {
		n.t.Fatalf("testbed: starting node %s: %v\n%s", n.Name, err, n.console())
	}
	if err := n.waitRunning(); err != nil {
		n.t.Fatalf("testbed: node %s did not boot: %v\nconsole:\n%s", n.Name, err, n.console())
	}
	n.t.Logf("testbed: node %s booted in %s", n.Name, time.Since(start).Round(time.Millisecond))
}

func (n *Node) startNspawn() error {
	args := []string{"-q", "-b", "-D", n.Root(), "--machine=" + n.Name,
		// No systemd and no D-Bus on the host: nothing to register with.
		"--register=no", "--keep-unit", "--console=read-only"}
	if !n.opts.HostNetwork {
		args = append(args, "--private-network")
	}
	for _, b := range n.opts.Binds {
		flag := "--bind="
		if b.ReadOnly {
			flag = "--bind-ro="
		}
		args = append(args, flag+b.Host+":"+b.Node)
	}
	console, err := os.OpenFile(filepath.Join(n.Dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer console.Close()
	cmd := exec.Command("systemd-nspawn", args...)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a terminal's ^C reaches the harness, which tears down.
		Setpgid: true,
		// If the test process dies outright, nspawn dies with it, and so does the
		// container (nspawn's child has the same parent-death signal).
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	n.mu.Lock()
	n.nspawn, n.exited = cmd, exited
	n.mu.Unlock()

	pid, err := n.findInit(cmd.Process.Pid, exited)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.pid = pid
	n.mu.Unlock()
	return n.writePids(cmd.Process.Pid, pid)
}

// findInit returns the node's PID 1 as the host sees it: the child of nspawn that is
// PID 1 in its own PID namespace.
func (n *Node) findInit(nspawn int, exited <-chan struct{}) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return 0, errors.New("systemd-nspawn exited")
		default:
		}
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nspawn, nspawn))
		for _, f := range strings.Fields(string(children)) {
			status, _ := os.ReadFile("/proc/" + f + "/status")
			for _, line := range strings.Split(string(status), "\n") {
				ids := strings.Fields(strings.TrimPrefix(line, "NSpid:"))
				if strings.HasPrefix(line, "NSpid:") && len(ids) == 2 && ids[1] == "1" {
					return strconv.Atoi(f)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, errors.New("no container init process after 10s")
}

func (n *Node) waitRunning() error {
	deadline := time.Now().Add(n.opts.BootTimeout)
	var last Result
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			return errors.New("systemd-nspawn exited during boot")
		default:
		}
		last = n.Exec("systemctl", "is-system-running")
		switch strings.TrimSpace(last.Stdout) {
		case "running", "degraded":
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	jobs := n.Exec("systemctl", "list-jobs", "--no-pager")
	return fmt.Errorf("after %s: is-system-running: %s\njobs:\n%s", n.opts.BootTimeout, last, jobs.Stdout)
}

// writePids records who owns the node and what runs it, for reapStale: each process as
// its pid and start time, since pids are reused.
func (n *Node) writePids(nspawn, init int) error {
	var b strings.Builder
	for _, pid := range []int{os.Getpid(), nspawn, init} {
		fmt.Fprintf(&b, "%s ", procID{pid, startTime(pid)})
	}
	return os.WriteFile(filepath.Join(n.Dir, "pids"), []byte(strings.TrimSpace(b.String())+"\n"), 0o600)
}

func (n *Node) console() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "console.log"))
	return string(lastBytes(b, 4000))
}
