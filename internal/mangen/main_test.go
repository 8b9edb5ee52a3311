package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command gets a page, with its examples, and text reads as in
// --help.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nodeup", "nodeup-validate", "nodeup-fmt", "nodeup-render", "nodeup-graph", "nodeup-plan", "nodeup-apply",
		"nodeup-verify", "nodeup-facts", "nodeup-bundle", "nodeup-cloud-init", "nodeup-version", "nodeup-completion"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".1"))
		if err != nil {
			t.Errorf("no page for %s: %v", name, err)
			continue
		}
		page := string(b)
		if !strings.Contains(page, ".SH EXAMPLE") || !strings.Contains(page, ".SH SYNOPSIS") || !strings.Contains(page, "Jan 2026") {
			t.Errorf("%s.1 lacks examples, synopsis or its date:\n%s", name, page)
		}
	}
	plan, _ := os.ReadFile(filepath.Join(dir, "nodeup-plan.1"))
	if !strings.Contains(string(plan), `NODEUP_VAR_<NAME>`) {
		t.Errorf("nodeup-plan.1 mangles NODEUP_VAR_<NAME>:\n%s", plan)
	}
}
