package cli

import "github.com/nodeup/nodeup/node/facts"

// factsView is what nodeup detects about the node: a table, or the facts
// as the JSON document's fields.
type factsView struct{ f *facts.Facts }

func (v factsView) human(inv *invocation) { inv.table(v.f.Table) }

func (v factsView) document() any { return v.f }

func (v factsView) ok() bool { return true }
