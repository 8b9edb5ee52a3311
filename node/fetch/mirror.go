package fetch

import (
	"fmt"
	"net/url"
	"strings"
)

// MirrorURL maps an upstream URL https://HOST/PATH to mirror M as
// M/HOST/PATH (SPEC section 6): the layout `nodeup bundle` writes, so a
// bundle directory is a file:// mirror and any static web server serves it.
// A trailing slash on M is ignored; the upstream's query is dropped. The
// mirror must be an http, https or file URL.
func MirrorURL(mirror, upstream string) (string, error) {
	m, err := url.Parse(mirror)
	if err != nil {
		return "", fmt.Errorf("mirror %q: %w", mirror, err)
	}
	switch m.Scheme {
	case "http", "https", "file":
	default:
		return "", fmt.Errorf("mirror %q: scheme must be http, https or file", mirror)
	}
	hp, err := hostPath(upstream)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(mirror, "/") + "/" + hp, nil
}

// hostPath is the HOST/PATH of an upstream URL, path still escaped.
func hostPath(upstream string) (string, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", fmt.Errorf("upstream URL %q: %w", upstream, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("upstream URL %q: want http(s)://HOST/PATH", upstream)
	}
	return u.Host + "/" + strings.TrimLeft(u.EscapedPath(), "/"), nil
}

// Candidates lists where to download upstream from, in order: each mirror's
// MirrorURL, then upstream itself if allowUpstream. Duplicates are dropped.
// A mirror with a bad scheme stays in the list, so Fetch reports it.
func Candidates(mirrors []string, upstream string, allowUpstream bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	if hp, err := hostPath(upstream); err == nil {
		for _, m := range mirrors {
			add(strings.TrimRight(m, "/") + "/" + hp)
		}
	}
	if allowUpstream {
		add(upstream)
	}
	return out
}
