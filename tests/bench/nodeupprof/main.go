// Command nodeupprof is nodeup with profiling, for make bench's profile runs: it runs
// the same command line as nodeup and writes a CPU profile to $NODEUP_CPUPROFILE and
// an execution trace (where the wall time goes: syscalls, waits, scheduling) to
// $NODEUP_TRACE, each when set.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"

	"github.com/nodeup/nodeup/cli"
)

func main() { os.Exit(run()) }

func run() int {
	if p := os.Getenv("NODEUP_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nodeupprof:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "nodeupprof:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if p := os.Getenv("NODEUP_TRACE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nodeupprof:", err)
			return 1
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			fmt.Fprintln(os.Stderr, "nodeupprof:", err)
			return 1
		}
		defer trace.Stop()
	}
	return cli.Main()
}
