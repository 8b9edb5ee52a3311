package testbed

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// live holds the nodes of this test process that are not torn down yet, so an interrupt
// can tear them down: testing runs no cleanups when the process is signalled.
var live = struct {
	sync.Mutex
	nodes    map[*Node]struct{}
	handling bool
}{nodes: map[*Node]struct{}{}}

func track(n *Node) {
	live.Lock()
	defer live.Unlock()
	live.nodes[n] = struct{}{}
	if !live.handling {
		live.handling = true
		handleSignals()
	}
}

func untrack(n *Node) {
	live.Lock()
	defer live.Unlock()
	delete(live.nodes, n)
}

// handleSignals tears every live node down on SIGINT or SIGTERM, then lets the signal
// do what it would have done: the process dies of it.
func handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-ch
		live.Lock()
		nodes := make([]*Node, 0, len(live.nodes))
		for n := range live.nodes {
			nodes = append(nodes, n)
		}
		live.Unlock()
		for _, n := range nodes {
			if err := n.teardown(); err != nil {
				fmt.Fprintf(os.Stderr, "testbed: tearing down node %s on %v: %v\n", n.Name, sig, err)
			}
		}
		signal.Reset(syscall.SIGINT, syscall.SIGTERM)
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}()
}
