package engine

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// changer is a step that always changes the node and says when it ran.
type changer struct {
	name string
	ran  func(string)
}

func (c *changer) Kind() string     { return "test" }
func (c *changer) Key() string      { return c.name }
func (c *changer) Describe() string { return c.name }
func (c *changer) Writes() []string { return nil }
func (c *changer) Check(context.Context, *steps.Env) (steps.Change, error) {
	return steps.Change{Action: steps.Create}, nil
}
func (c *changer) Apply(context.Context, *steps.Env) (steps.Change, error) {
	c.ran(c.name)
	return steps.Change{Action: steps.Create}, nil
}

// Steps do not wait for the state to reach the disk: while one checkpoint
// is held up, the steps after the change go on, and their checkpoints are
// folded into one. Run returns only once a checkpoint followed the last
// change.
func TestRunCheckpointsInTheBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var order []string
		record := func(s string) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, s)
		}
		g := graph.NewGraph()
		prev := ""
		for _, name := range []string{"a", "b", "c", "d"} {
			var deps []string
			if prev != "" {
				deps = append(deps, "test:"+prev)
			}
			g.Add(&changer{name: name, ran: record}, hcl.Range{}, deps...)
			prev = name
		}
		release := make(chan struct{})
		calls := 0
		checkpoint := func() {
			calls++
			record("checkpoint")
			if calls == 1 {
				<-release
			}
		}
		n := stepstest.NewNode(t)
		done := make(chan []Result)
		go func() {
			done <- Run(context.Background(), g, n.Env, Options{Apply: true, Parallelism: 1, Checkpoint: checkpoint})
		}()

		synctest.Wait()
		mu.Lock()
		got := append([]string(nil), order...)
		mu.Unlock()
		// Every step ran, and one checkpoint, after a's change.
		steps := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s == "checkpoint" })
		if !slices.Equal(steps, []string{"a", "b", "c", "d"}) || len(got) != 5 || got[0] != "a" {
			t.Errorf("while the first checkpoint is held up: %q, want a, b, c and d and one checkpoint after a", got)
		}
		select {
		case <-done:
			t.Fatal("Run returned before a checkpoint followed the last change")
		default:
		}
		close(release)
		<-done
		// The held call may have started before b, c and d changed
		// anything, or after; either way their changes share one call.
		if calls > 2 {
			t.Errorf("%d checkpoints for 4 changes, want at most 2", calls)
		}
	})
}
