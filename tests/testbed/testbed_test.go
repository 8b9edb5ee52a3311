package testbed

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMachineName(t *testing.T) {
	for _, tc := range []struct{ test, prefix string }{
		{"TestSmoke/containerd_2.3.4", "testsmoke-containerd-2-3-4-"},
		{"Test__X", "test-x-"},
		{strings.Repeat("a", 80), strings.Repeat("a", 40) + "-"},
	} {
		got := machineName(tc.test)
		if !strings.HasPrefix(got, tc.prefix) || len(got) != len(tc.prefix)+6 {
			t.Errorf("machineName(%q) = %q, want %q + 6 hex digits", tc.test, got, tc.prefix)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/tmp/a\040b\011c`); got != "/tmp/a b\tc" {
		t.Errorf("got %q", got)
	}
}

// nodeTrace is what a leak check needs to know about a node after it is gone.
type nodeTrace struct {
	dir   string
	procs []procID // nspawn and every process in the node's PID namespace
}

func traceOf(t *testing.T, n *Node) nodeTrace {
	n.mu.Lock()
	nspawn, init := n.nspawn.Process.Pid, n.pid
	n.mu.Unlock()
	return trace(t, n.Dir, nspawn, init)
}

// trace lists nspawn and the processes that share the PID namespace of the node's init.
func trace(t *testing.T, dir string, nspawn, init int) nodeTrace {
	t.Helper()
	tr := nodeTrace{dir: dir, procs: []procID{{nspawn, startTime(nspawn)}}}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		t.Fatalf("node init %d: %v", init, err)
	}
	nsLinks, _ := filepath.Glob("/proc/[0-9]*/ns/pid")
	for _, l := range nsLinks {
		if target, err := os.Readlink(l); err == nil && target == ns {
			pid, _ := strconv.Atoi(strings.Split(l, "/")[2])
			tr.procs = append(tr.procs, procID{pid, startTime(pid)})
		}
	}
	if len(tr.procs) < 3 { // nspawn, systemd, at least journald
		t.Fatalf("node processes: %v", tr.procs)
	}
	return tr
}

// assertGone checks that nothing of a node is left: no process, no mount, no directory.
func assertGone(t *testing.T, tr nodeTrace) {
	t.Helper()
	for _, p := range tr.procs {
		waitGone(p)
		if p.running() {
			t.Errorf("process %s of the node still running", p)
		}
	}
	if mounts, err := mountsUnder(tr.dir); err != nil || len(mounts) > 0 {
		t.Errorf("mounts left under %s: %v %v", tr.dir, mounts, err)
	}
	if _, err := os.Stat(tr.dir); !os.IsNotExist(err) {
		t.Errorf("node directory %s left behind (stat: %v)", tr.dir, err)
	}
}

func TestNodeLifecycleLeavesNothing(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "hello"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var tr nodeTrace
	t.Run("node", func(t *testing.T) {
		n := Boot(t, Options{Binds: []Bind{{Host: host, Node: "/srv/host", ReadOnly: true}}})
		tr = traceOf(t, n)

		if got := strings.TrimSpace(n.Run(t, "cat", "/proc/1/comm")); got != "systemd" {
			t.Errorf("PID 1 inside is %q, want systemd", got)
		}
		if got := strings.TrimSpace(n.Run(t, "hostname")); got != n.Name {
			t.Errorf("hostname %q, want %q", got, n.Name)
		}
		r := n.Exec("sh", "-c", "echo out; echo err >&2; exit 3")
		if r.Code != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" || r.Err != nil {
			t.Errorf("exit code and streams not passed through: %s", r)
		}
		if got := n.Run(t, "cat", "/srv/host/hello"); got != "from the host\n" {
			t.Errorf("bind: got %q", got)
		}
		if r := n.Exec("touch", "/srv/host/x"); r.Code == 0 {
			t.Errorf("a read-only bind is writable inside the node")
		}
		if err := n.CopyIn(filepath.Join(host, "hello"), "/etc/testbed/hello"); err != nil {
			t.Fatal(err)
		}
		if got := n.Run(t, "cat", "/etc/testbed/hello"); got != "from the host\n" {
			t.Errorf("CopyIn: got %q", got)
		}
		// /run is a tmpfs inside the node: Path must see the node's view of it.
		if fi, err := os.Stat(n.Path("/run/systemd/system")); err != nil || !fi.IsDir() {
			t.Errorf("Path(/run/systemd/system): %v", err)
		}
		if links := n.Run(t, "ip", "-o", "link"); strings.Count(links, "\n") != 1 || !strings.Contains(links, ": lo:") {
			t.Errorf("a node has a private network with only lo; ip link says:\n%s", links)
		}
		if j := n.Journal("systemd-journald.service"); !strings.Contains(j, "journal") {
			t.Errorf("Journal: %q", j)
		}
	})
	assertGone(t, tr)
}

func TestNodeRebootKeepsState(t *testing.T) {
	n := Boot(t, Options{})
	boot1 := n.Run(t, "cat", "/proc/sys/kernel/random/boot_id")
	n.Run(t, "sh", "-c", "echo kept > /etc/kept && systemctl enable systemd-networkd")
	n.Stop()
	if b, err := os.ReadFile(n.Path("/etc/kept")); err != nil || string(b) != "kept\n" {
		t.Fatalf("stopped node's copy: %q %v", b, err)
	}
	n.Start()
	if n.Run(t, "cat", "/proc/sys/kernel/random/boot_id") == boot1 {
		t.Errorf("same boot id after Stop and Start: the node did not reboot")
	}
	if got := strings.TrimSpace(n.Run(t, "systemctl", "is-active", "systemd-networkd")); got != "active" {
		t.Errorf("a unit enabled before the reboot is %q after it", got)
	}
}

// TestHelperNode is run in a child process by TestTeardownOnInterruptPanicAndKill; in a
// normal run it does nothing.
func TestHelperNode(t *testing.T) {
	mode := os.Getenv("TESTBED_HELPER")
	if mode == "" {
		return
	}
	n := Boot(t, Options{})
	n.mu.Lock()
	fmt.Printf("NODE %s %d %d\n", n.Dir, n.nspawn.Process.Pid, n.pid)
	n.mu.Unlock()
	if mode == "panic" {
		// Panic only once the parent has taken its census of the node's
		// processes: it says so with a line on stdin.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		panic("the helper panics with a node running")
	}
	time.Sleep(2 * time.Minute) // until the parent signals or kills us
	t.Errorf("helper was not stopped")
}

func TestTeardownOnInterruptPanicAndKill(t *testing.T) {
	for _, mode := range []string{"SIGINT", "SIGTERM", "panic", "SIGKILL"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNode$", "-test.v")
			cmd.Env = append(os.Environ(), "TESTBED_HELPER="+mode)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var dir string
			var nspawn, init int
			var output strings.Builder
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				output.WriteString(sc.Text() + "\n")
				if _, err := fmt.Sscanf(sc.Text(), "NODE %s %d %d", &dir, &nspawn, &init); err == nil {
					break
				}
			}
			if dir == "" {
				_ = cmd.Wait()
				t.Fatalf("helper booted no node:\n%s", output.String())
			}
			tr := trace(t, dir, nspawn, init)
			switch mode {
			case "SIGINT":
				_ = cmd.Process.Signal(syscall.SIGINT)
			case "SIGTERM":
				_ = cmd.Process.Signal(syscall.SIGTERM)
			case "SIGKILL":
				_ = cmd.Process.Kill()
			case "panic":
				if _, err := io.WriteString(stdin, "panic\n"); err != nil {
					t.Fatalf("telling the helper to panic: %v", err)
				}
			}
			go func() {
				for sc.Scan() {
				}
			}()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("helper did not exit within 60s of %s", mode)
			}
			if err == nil {
				t.Errorf("helper exited 0 after %s; want a failure", mode)
			}
			if mode == "SIGKILL" {
				// No cleanup could run; the next Create reaps what is left.
				if err := reapStale(filepath.Dir(tr.dir)); err != nil {
					t.Errorf("reapStale: %v", err)
				}
			}
			assertGone(t, tr)
		})
	}
}
