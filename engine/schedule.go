package engine

import (
	"sync"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/steps"
)

// priorities gives each step the weight (steps.WeightOf: a rough cost) of the heaviest chain of steps
// from it to the end of the graph, itself included: run first, a step
// with a high priority does not leave the longest chain waiting for a
// slot (containerd's archive queued behind crictl's, which nothing needs).
func priorities(g *graph.Graph) map[string]int {
	order := g.Order()
	dependents := map[string][]string{}
	for _, s := range order {
		for _, d := range s.Deps {
			dependents[d] = append(dependents[d], s.ID)
		}
	}
	prio := make(map[string]int, len(order))
	for i := len(order) - 1; i >= 0; i-- {
		s := order[i]
		most := 0
		for _, d := range dependents[s.ID] {
			most = max(most, prio[d])
		}
		prio[s.ID] = steps.WeightOf(s.Action) + most
	}
	return prio
}

// slots lets at most n steps run at once; a freed slot goes to the waiting
// step with the highest priority (the first to wait, among equals).
type slots struct {
	mu      sync.Mutex
	free    int
	waiting []waiter
}

type waiter struct {
	prio int
	turn chan struct{}
}

func newSlots(n int) *slots { return &slots{free: max(n, 1)} }

func (s *slots) acquire(prio int) {
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.mu.Unlock()
		return
	}
	w := waiter{prio: prio, turn: make(chan struct{})}
	s.waiting = append(s.waiting, w)
	s.mu.Unlock()
	<-w.turn
}

func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) == 0 {
		s.free++
		return
	}
	best := 0
	for i, w := range s.waiting {
		if w.prio > s.waiting[best].prio {
			best = i
		}
	}
	close(s.waiting[best].turn)
	s.waiting = append(s.waiting[:best], s.waiting[best+1:]...)
}
