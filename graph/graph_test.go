package graph

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestGraphCycleIsReported(t *testing.T) {
	g := NewGraph()
	g.Add(act("dir", "/a"), hcl.Range{}, "dir:/c")
	g.Add(act("dir", "/b"), hcl.Range{}, "dir:/a")
	g.Add(act("dir", "/c"), hcl.Range{}, "dir:/b")
	g.Add(act("dir", "/d"), hcl.Range{})
	err := g.Validate()
	if err == nil {
		t.Fatal("cycle not found")
	}
	if want := "cycle dir:/a -> dir:/c -> dir:/b -> dir:/a"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	for i := 0; i < 5; i++ {
		if again := g.Validate(); again.Error() != err.Error() {
			t.Errorf("cycle report not deterministic: %q vs %q", again, err)
		}
	}
}

func TestGraphMissingAndDuplicate(t *testing.T) {
	g := NewGraph()
	g.Add(act("dir", "/a"), hcl.Range{}, "file:/nowhere")
	g.Add(act("dir", "/a"), hcl.Range{})
	err := g.Validate()
	if err == nil || !strings.Contains(err.Error(), "file:/nowhere, which is not in the graph") || !strings.Contains(err.Error(), "dir:/a is added twice") {
		t.Errorf("err = %v", err)
	}
}

func TestGraphOrderIsTopologicalAndStable(t *testing.T) {
	g := NewGraph()
	g.Add(act("unit", "x.service"), hcl.Range{}, "file:/etc/x", "dir:/etc")
	g.Add(act("file", "/etc/x"), hcl.Range{}, "dir:/etc")
	g.Add(act("dir", "/etc"), hcl.Range{})
	g.Add(act("module", "overlay"), hcl.Range{})
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range g.Order() {
		ids = append(ids, s.ID)
	}
	if got, want := strings.Join(ids, " "), "dir:/etc file:/etc/x module:overlay unit:x.service"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	if !strings.Contains(g.Dot(), `"file:/etc/x" -> "unit:x.service";`) {
		t.Errorf("dot lacks edge:\n%s", g.Dot())
	}
}

func TestWalkRunsDependenciesFirstAndSkipsDownstreamOfFailure(t *testing.T) {
	g := NewGraph()
	g.Add(act("dir", "/etc"), hcl.Range{})
	g.Add(act("file", "/etc/a"), hcl.Range{}, "dir:/etc")
	g.Add(act("unit", "a.service"), hcl.Range{}, "file:/etc/a")
	g.Add(act("verify", "cri"), hcl.Range{}, "unit:a.service")
	g.Add(act("module", "overlay"), hcl.Range{})
	g.Add(act("sysctl", "net.ipv4.ip_forward"), hcl.Range{}, "module:overlay")
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	done := map[string]bool{}
	results := g.Walk(context.Background(), 4, func(_ context.Context, s *Step) error {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range s.Deps {
			if !done[d] {
				t.Errorf("%s ran before its dependency %s", s.ID, d)
			}
		}
		done[s.ID] = true
		if s.ID == "file:/etc/a" {
			return errors.New("disk full")
		}
		return nil
	})
	if len(results) != 6 {
		t.Fatalf("results for %d steps, want 6", len(results))
	}
	if results["file:/etc/a"] == nil || results["dir:/etc"] != nil || results["sysctl:net.ipv4.ip_forward"] != nil {
		t.Errorf("results: %v", results)
	}
	for _, id := range []string{"unit:a.service", "verify:cri"} {
		var skipped *SkippedError
		if !errors.As(results[id], &skipped) || skipped.Cause != "file:/etc/a" {
			t.Errorf("%s: %v, want skipped because file:/etc/a failed", id, results[id])
		}
		if done[id] {
			t.Errorf("%s ran downstream of a failure", id)
		}
	}
}

func TestWalkBoundsParallelism(t *testing.T) {
	g := NewGraph()
	for i := 0; i < 20; i++ {
		g.Add(act("module", string(rune('a'+i))), hcl.Range{})
	}
	var mu sync.Mutex
	running, peak := 0, 0
	// The first steps hold their slots until three run at once, so a walk
	// that allows three must reach three, whatever the scheduler does.
	full := make(chan struct{})
	g.Walk(context.Background(), 3, func(context.Context, *Step) error {
		mu.Lock()
		running++
		if running > peak {
			peak = running
		}
		if running == 3 && peak == 3 {
			select {
			case <-full:
			default:
				close(full)
			}
		}
		mu.Unlock()
		<-full
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	})
	if peak != 3 {
		t.Errorf("peak parallelism %d, want 3", peak)
	}
}

// fake is an action of any kind: the graph knows only its identity.
type fake struct{ kind, key string }

func (f fake) Kind() string     { return f.kind }
func (f fake) Key() string      { return f.key }
func (f fake) Describe() string { return f.kind + " " + f.key }

func act(kind, key string) Action { return fake{kind, key} }
