package ops

import (
	"context"
	"fmt"
	"path"

	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

// CleanCacheOptions are what cache clean is asked.
type CleanCacheOptions struct {
	// Dir is a cache to empty instead of the node's (under Root), such
	// as the one bundle fills; it takes no lock.
	Dir string
	// Wait queues behind another nodeup holding the node's lock.
	Wait bool
}

// CleanCacheReport is what cache clean removed.
type CleanCacheReport struct {
	// Cache is the directory emptied.
	Cache string
	// Files counts the regular files removed, Bytes their size.
	Files int
	Bytes int64
}

// CleanCache empties the download cache: the node's, holding its lock so
// no running apply loses what it uses, or Dir.
func CleanCache(ctx context.Context, c *Config, o CleanCacheOptions) (*CleanCacheReport, error) {
	h, node, err := cacheHost(c.Root, o.Dir)
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		release, err := h.Lock(ctx, o.Wait, func(holder int) {
			c.logger().Info(fmt.Sprintf("waiting for another nodeup (pid %d) to release %s", holder, paths.LockFile))
		})
		if err != nil {
			return nil, err
		}
		defer release()
	}
	// Only cache entries go, from a cache reached through no link: a
	// directory that is not nodeup's cache is refused whole.
	cleaned, err := fetch.Clean(h, node)
	where := o.Dir
	if where == "" {
		where = path.Join(c.Root, paths.CacheDir)
	}
	if err != nil {
		return nil, fmt.Errorf("cache clean %s: %w", where, err)
	}
	return &CleanCacheReport{Cache: where, Files: cleaned.Files, Bytes: cleaned.Bytes}, nil
}

// cacheHost returns the host the cache is in and the cache's node path:
// the node's cache under root, or dir itself.
func cacheHost(root, dir string) (*host.Host, string, error) {
	if dir == "" {
		h, err := host.New(root)
		return h, paths.CacheDir, err
	}
	h, err := host.New(dir)
	if err != nil {
		return nil, "", fmt.Errorf("--cache: %w", err)
	}
	return h, "/", nil
}
