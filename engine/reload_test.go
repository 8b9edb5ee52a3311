package engine

import (
	"context"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/steps/stepstest"
)

// Units whose files were all written before one unit's daemon-reload share
// it; a unit file written after that reload gets one of its own.
func TestRunSharesDaemonReloads(t *testing.T) {
	unitFile := func(name string) *steps.File {
		return &steps.File{Path: "/etc/systemd/system/" + name, Mode: 0o644,
			Content: []byte("[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n")}
	}
	unit := func(name string) *steps.Unit {
		return &steps.Unit{Name: name, Path: "/etc/systemd/system/" + name, WantedBy: []string{"multi-user.target"},
			Start: true, RestartOn: []string{steps.FileID("/etc/systemd/system/" + name)}}
	}
	for _, tc := range []struct {
		name string
		// bAfterA writes b.service only once a.service has started (and
		// reloaded); otherwise both files come before either unit.
		bAfterA bool
		reloads int
	}{
		{"both files written before the first reload", false, 1},
		{"b.service written after a.service's reload", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := stepstest.NewNode(t)
			f := n.Online()
			a, b := unitFile("a.service"), unitFile("b.service")
			g := graph.NewGraph()
			g.Add(a, hcl.Range{})
			if tc.bAfterA {
				g.Add(b, hcl.Range{}, steps.UnitID("a.service"))
				g.Add(unit("a.service"), hcl.Range{}, steps.ID(a))
			} else {
				g.Add(b, hcl.Range{})
				g.Add(unit("a.service"), hcl.Range{}, steps.ID(a), steps.ID(b))
			}
			g.Add(unit("b.service"), hcl.Range{}, steps.ID(b), steps.UnitID("a.service"))
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, r := range Run(context.Background(), g, n.Env, Options{Apply: true, Parallelism: 4}) {
				if r.Err != nil {
					t.Fatalf("%s: %v", r.ID, r.Err)
				}
			}
			if got := f.Count("daemon-reload", ""); got != tc.reloads {
				t.Errorf("%d daemon-reloads, want %d: %q", got, tc.reloads, f.Calls())
			}
			for _, u := range []string{"a.service", "b.service"} {
				if f.Count("start", u) != 1 {
					t.Errorf("%s not started: %q", u, f.Calls())
				}
			}
		})
	}
}
