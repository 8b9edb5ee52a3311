package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
