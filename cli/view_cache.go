package cli

import (
	"fmt"

	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/ops"
)

// cacheCleanView is a cache emptied: where, and how much went.
type cacheCleanView struct{ r *ops.CleanCacheReport }

func (v cacheCleanView) human(inv *invocation) {
	fmt.Fprintf(inv.out, "cache %s: removed %d files, %s\n", printable(v.r.Cache), v.r.Files, fetch.Size(v.r.Bytes))
}

func (v cacheCleanView) document() any {
	return map[string]any{"cache": v.r.Cache, "files": v.r.Files, "bytes": v.r.Bytes}
}

func (v cacheCleanView) ok() bool { return true }
