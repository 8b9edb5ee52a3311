package testbed

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

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
