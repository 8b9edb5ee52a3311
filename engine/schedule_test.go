package engine

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/steps"
)

// The archive whose chain goes on to a unit start and the verification
// comes before one that nothing waits for, and both before plain files.
func TestPrioritiesFavourTheLongestChain(t *testing.T) {
	g := graph.NewGraph()
	g.Add(&steps.Dir{Path: "/usr/local/bin"}, hcl.Range{})
	g.Add(&steps.Artifact{Name: "containerd"}, hcl.Range{}, steps.DirID("/usr/local/bin"))
	g.Add(&steps.Artifact{Name: "crictl"}, hcl.Range{}, steps.DirID("/usr/local/bin"))
	g.Add(&steps.File{Path: "/etc/crictl.yaml"}, hcl.Range{})
	g.Add(&steps.Unit{Name: "containerd.service"}, hcl.Range{}, steps.ArtifactID("containerd"))
	g.Add(&steps.Verify{}, hcl.Range{}, steps.UnitID("containerd.service"))
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	p := priorities(g)
	want := map[string]int{
		steps.VerifyID:                1,
		"unit:containerd.service":     4,
		"artifact:containerd":         14,
		"artifact:crictl":             10,
		"file:/etc/crictl.yaml":       1,
		steps.DirID("/usr/local/bin"): 15,
	}
	for id, n := range want {
		if p[id] != n {
			t.Errorf("priority of %s: %d, want %d", id, p[id], n)
		}
	}
}

// A freed slot goes to the waiting step with the highest priority, the
// first to wait among equals.
func TestSlotsGoToTheHighestPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSlots(1)
		s.acquire(0)
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		for _, w := range []struct {
			name string
			prio int
		}{{"light", 1}, {"heavy", 5}, {"heavy too", 5}} {
			wg.Go(func() {
				s.acquire(w.prio)
				mu.Lock()
				order = append(order, w.name)
				mu.Unlock()
				s.release()
			})
			synctest.Wait() // queued in this order
		}
		s.release()
		wg.Wait()
		if want := []string{"heavy", "heavy too", "light"}; !slices.Equal(order, want) {
			t.Errorf("order %q, want %q", order, want)
		}
	})
}
