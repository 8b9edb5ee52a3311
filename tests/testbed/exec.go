package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

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

// InNetwork prepares args to run on the host in the node's network namespace only: a host
// tool (packer, ssh) reaches the node's services at 127.0.0.1 and sees the host's files.
func (n *Node) InNetwork(args ...string) *exec.Cmd {
	n.mu.Lock()
	pid := n.pid
	n.mu.Unlock()
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-n", "--"}, args...)...)
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
