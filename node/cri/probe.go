package cri

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// ProcProbe reads a process's cgroup and network namespace from this
// host's /proc: verify runs on the node whose pods it checks.
type ProcProbe struct{}

// Cgroup reads /proc/PID/cgroup: the unified (v2) entry, else the v1
// memory controller's.
func (ProcProbe) Cgroup(pid int) (string, error) {
	p := fmt.Sprintf("/proc/%d/cgroup", pid)
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("the container's cgroup: %w", err)
	}
	defer f.Close()
	var v1 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1 = parts[2]
			}
		}
	}
	if v1 != "" {
		return v1, nil
	}
	return "", fmt.Errorf("%s names no cgroup v2 path nor a memory controller", p)
}

// Netns lists the interfaces of the process's network namespace, asked
// from a thread that joins it and is then discarded.
func (ProcProbe) Netns(pid int) ([]Interface, error) {
	type result struct {
		ifs []Interface
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the goroutine ends with the thread in the pod's
		// namespace, and Go then ends the thread instead of reusing it.
		runtime.LockOSThread()
		ifs, err := interfacesIn(fmt.Sprintf("/proc/%d/ns/net", pid))
		done <- result{ifs, err}
	}()
	r := <-done
	return r.ifs, r.err
}

func interfacesIn(nsPath string) ([]Interface, error) {
	fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("the pod's network namespace %s: %w", nsPath, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("entering the pod's network namespace %s: %w (run verify --pod as root)", nsPath, err)
		}
		return nil, fmt.Errorf("entering the pod's network namespace %s: %w", nsPath, err)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("the pod's interfaces: %w", err)
	}
	var out []Interface
	for _, i := range ifs {
		in := Interface{Name: i.Name, Up: i.Flags&net.FlagUp != 0}
		addrs, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("the addresses of %s in the pod: %w", i.Name, err)
		}
		for _, a := range addrs {
			in.Addrs = append(in.Addrs, a.String())
		}
		out = append(out, in)
	}
	return out, nil
}
