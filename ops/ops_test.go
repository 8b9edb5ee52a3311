package ops

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// A host diagnostic against a profile without the block it would point at
// has no source location, not an empty one.
func TestDiagnosticsWithoutEmptySubjects(t *testing.T) {
	var heard hcl.Diagnostics
	c := &Config{Hooks: Hooks{Diagnostics: func(_ map[string]*hcl.File, d hcl.Diagnostics) { heard = d }}}
	at := &hcl.Range{Filename: "node.hcl", Start: hcl.Pos{Line: 3, Column: 1}}
	c.diagnostics(nil, hcl.Diagnostics{
		{Severity: hcl.DiagWarning, Summary: "cgroup v1 host", Subject: &hcl.Range{}},
		{Severity: hcl.DiagWarning, Summary: "kata without /dev/kvm", Subject: at},
	})
	if len(heard) != 2 || heard[0].Subject != nil || heard[1].Subject != at {
		t.Errorf("heard %+v", heard)
	}
}
