package testbed

import (
	"bytes"
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
	rootfs := Rootfs(t)
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

// procID names a process for later: a pid alone may be reused.
type procID struct {
	pid   int
	start uint64 // in clock ticks since boot; 0 if unknown
}

func (p procID) String() string { return fmt.Sprintf("%d:%d", p.pid, p.start) }

// running reports whether the process still runs (a zombie does not).
func (p procID) running() bool {
	if p.pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return false
	}
	f := statFields(b)
	return len(f) > 19 && f[0] != "Z" && f[19] == strconv.FormatUint(p.start, 10)
}

// statFields are the fields of /proc/PID/stat after the command name (which may hold
// spaces): f[0] is the state, f[19] the start time.
func statFields(stat []byte) []string {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

func startTime(pid int) uint64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if f := statFields(b); len(f) > 19 {
		v, _ := strconv.ParseUint(f[19], 10, 64)
		return v
	}
	return 0
}

func (n *Node) console() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "console.log"))
	return string(lastBytes(b, 4000))
}

// Result is what a command run inside a node did.
type Result struct {
	Stdout, Stderr string
	Code           int   // exit code; -1 if the command did not exit normally
	Err            error // non-nil when the command could not run or was killed
}

func (r Result) String() string {
	s := fmt.Sprintf("exit %d", r.Code)
	if r.Err != nil {
		s += fmt.Sprintf(" (%v)", r.Err)
	}
	return s + "\nstdout:\n" + r.Stdout + "\nstderr:\n" + r.Stderr
}

// Command prepares args to run inside the node (every namespace of its PID 1, its root,
// a clean environment). Use it to set Stdin, Env or a timeout; Exec and Run cover the rest.
func (n *Node) Command(args ...string) *exec.Cmd {
	n.mu.Lock()
	pid := n.pid
	n.mu.Unlock()
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-a", "-r", "-w", "--"}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0",
	}
	return cmd
}

// Exec runs args inside the node and returns what happened; a non-zero exit is not an error.
func (n *Node) Exec(args ...string) Result {
	return run(n.Command(args...))
}

func run(cmd *exec.Cmd) Result {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && r.Code >= 0) {
		r.Err = err
	}
	return r
}

// Run runs args inside the node, fails t unless they exit 0, and returns stdout.
func (n *Node) Run(t testing.TB, args ...string) string {
	t.Helper()
	r := n.Exec(args...)
	if r.Code != 0 || r.Err != nil {
		t.Fatalf("node %s: %s: %s", n.Name, strings.Join(args, " "), r)
	}
	return r.Stdout
}

// CopyIn copies the host file or directory src to the node path dst (the full
// destination path, not a directory to copy into), creating dst's parent.
func (n *Node) CopyIn(src, dst string) error {
	target := n.Path(dst)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-aT", src, target).CombinedOutput(); err != nil {
		return fmt.Errorf("cp %s %s: %v: %s", src, target, err, out)
	}
	return nil
}

// WriteFile writes data to the node path p, creating p's parent.
func (n *Node) WriteFile(p string, data []byte, perm os.FileMode) error {
	target := n.Path(p)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return os.WriteFile(target, data, perm)
}

// Journal returns the last 200 lines of the node's journal, of one unit if unit is set.
func (n *Node) Journal(unit string) string {
	args := []string{"journalctl", "--no-pager", "-n", "200"}
	if unit != "" {
		args = append(args, "-u", unit)
	}
	r := n.Exec(args...)
	return r.Stdout + r.Stderr
}

// Stop powers the node off cleanly (its root stays, so Start boots it again: a reboot).
func (n *Node) Stop() {
	n.t.Helper()
	if err := n.stop(true); err != nil {
		n.t.Fatalf("testbed: stopping node %s: %v", n.Name, err)
	}
}

// stop ends the running container: a clean poweroff when graceful, else SIGKILL to its
// PID 1, which kills everything in its PID namespace at once. Either way nspawn then
// exits; if it does not, its process group is killed.
func (n *Node) stop(graceful bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nspawn == nil {
		return nil
	}
	switch {
	case n.pid == 0: // boot failed before the node's init was found: nothing to shut down
		_ = syscall.Kill(-n.nspawn.Process.Pid, syscall.SIGKILL)
	case graceful:
		_ = syscall.Kill(n.pid, syscall.Signal(34+4)) // SIGRTMIN+4 (glibc's SIGRTMIN is 34): systemd powers off
	default:
		_ = syscall.Kill(n.pid, syscall.SIGKILL)
	}
	var err error
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		err = fmt.Errorf("systemd-nspawn (pid %d) still running 30s after the node's init was signalled; killed", n.nspawn.Process.Pid)
		_ = syscall.Kill(-n.nspawn.Process.Pid, syscall.SIGKILL)
		<-n.exited
	}
	n.nspawn, n.exited, n.pid = nil, nil, 0
	return err
}

// cleanup is the node's t.Cleanup: on failure it logs what the node says, then tears down.
func (n *Node) cleanup() {
	if n.t.Failed() {
		n.mu.Lock()
		running := n.pid != 0
		n.mu.Unlock()
		if running {
			n.t.Logf("testbed: journal of node %s:\n%s", n.Name, n.Journal(""))
		} else {
			n.t.Logf("testbed: console of node %s:\n%s", n.Name, n.console())
		}
	}
	start := time.Now()
	if err := n.teardown(); err != nil {
		n.t.Errorf("testbed: tearing down node %s: %v", n.Name, err)
	}
	n.t.Logf("testbed: node %s torn down in %s", n.Name, time.Since(start).Round(time.Millisecond))
}

// teardown stops the node and removes its files; safe to call more than once and from
// the signal handler. Nothing is removed while something is still mounted below the
// node's directory: that could be a bind of host data.
func (n *Node) teardown() error {
	var err error
	n.destroy.Do(func() {
		defer untrack(n)
		err = errors.Join(n.stop(false), removeNodeDir(n.Dir))
	})
	return err
}

// removeNodeDir unmounts what is left mounted under dir in the host's mount namespace
// (nspawn mounts in its own, which dies with the node) and removes dir.
func removeNodeDir(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
	if mounts, err = mountsUnder(dir); err != nil || len(mounts) > 0 {
		return errors.Join(err, fmt.Errorf("still mounted under %s, not removing it: %v", dir, mounts))
	}
	return os.RemoveAll(dir)
}

// mountsUnder lists the mount points at or below dir in the host's mount namespace.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// Field 5 is the mount point, with spaces and such octal-escaped.
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// reapStale removes nodes whose test process is gone (killed outright, so its cleanups
// never ran): it kills what still runs there and removes its files.
func reapStale(nodes string) error {
	entries, err := os.ReadDir(nodes)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(nodes, e.Name())
		procs, err := readPids(filepath.Join(dir, "pids"))
		if errors.Is(err, os.ErrNotExist) {
			// Create writes pids right after making the directory: only an old
			// directory without it is left over.
			if info, serr := os.Stat(dir); serr != nil || time.Since(info.ModTime()) < 5*time.Minute {
				continue
			}
		} else if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", dir, err))
			continue
		} else if procs[0].running() {
			continue // its test is still running
		}
		// The node's init first: killing it ends everything in the node. nspawn
		// survives its parent only if it was not yet waiting for init.
		for i := len(procs) - 1; i > 0; i-- {
			if procs[i].running() {
				_ = syscall.Kill(procs[i].pid, syscall.SIGKILL)
				waitGone(procs[i])
			}
		}
		if err := removeNodeDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readPids reads the owner, nspawn and init processes that writePids wrote.
func readPids(path string) ([3]procID, error) {
	var procs [3]procID
	b, err := os.ReadFile(path)
	if err != nil {
		return procs, err
	}
	f := strings.Fields(string(b))
	if len(f) != len(procs) {
		return procs, fmt.Errorf("%s: want %d fields, got %q", path, len(procs), b)
	}
	for i := range procs {
		if _, err := fmt.Sscanf(f[i], "%d:%d", &procs[i].pid, &procs[i].start); err != nil {
			return procs, fmt.Errorf("%s: %q: %v", path, f[i], err)
		}
	}
	return procs, nil
}

// waitGone waits up to 10s for a killed process to be gone: its exit takes a moment.
func waitGone(p procID) {
	for i := 0; i < 500 && p.running(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}
