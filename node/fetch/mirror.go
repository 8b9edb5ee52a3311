package fetch

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrNotAFile is the class of a URL that cannot name a file in a mirror, a
// bundle or the cache (errors.Is); see CheckURL.
var ErrNotAFile = errors.New("the URL cannot name a file")

// hostName is a DNS name (with underscores, which some internal names use).
var hostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$`)

// ErrNotSourceURL is a source (a mirror, an artifact's url) that is not an
// http or https URL with a host, nor a file:///absolute/path URL.
var ErrNotSourceURL = errors.New("not an http://, https:// or file:///absolute/path URL")

// CheckSource checks raw as a place to download from: ErrNotSourceURL for
// the wrong kind of URL, else what CheckURL finds.
func CheckSource(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !(u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "file") ||
		(u.Scheme != "file" && u.Host == "") || (u.Scheme == "file" && !path.IsAbs(u.Path)) {
		return ErrNotSourceURL
	}
	return CheckURL(u)
}

// CheckURL says why u cannot name a file below a directory (the mirror
// layout M/HOST/PATH, a bundle, a file:// mirror): a "." or ".." segment
// in its path, written as it is or percent-encoded (%2e); an encoded "/"
// (%2f), which would make one segment two on disk; a control character; or
// a host that is not a host name or an IP address. nil means HOST/PATH
// joined below any directory stays below it.
func CheckURL(u *url.URL) error {
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Errorf("%w: a file URL has no host (file:///path), not %q", ErrNotAFile, u.Host)
		}
	default:
		if !validHost(u) {
			return fmt.Errorf("%w: its host %q is not a host name or an IP address", ErrNotAFile, u.Host)
		}
	}
	raw := strings.Split(u.EscapedPath(), "/")
	for _, seg := range raw {
		if strings.Contains(strings.ToLower(seg), "%2f") || strings.Contains(seg, `\`) || strings.Contains(strings.ToLower(seg), "%5c") {
			return fmt.Errorf("%w: its path has a slash written inside a segment (%s)", ErrNotAFile, seg)
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return fmt.Errorf("%w: its path has a bad %%-escape (%s)", ErrNotAFile, seg)
		}
		if dec == "." || dec == ".." {
			spelled := ""
			if seg != dec {
				spelled = fmt.Sprintf(" (written %s)", seg)
			}
			return fmt.Errorf("%w: its path has a %q segment%s", ErrNotAFile, dec, spelled)
		}
		for _, r := range dec {
			if r < 0x20 || r == 0x7f {
				return fmt.Errorf("%w: its path has a control character", ErrNotAFile)
			}
		}
	}
	return nil
}

// validHost: a host name, an IPv4 address, or an IPv6 address in brackets,
// with an optional port (url.Parse checks the port).
func validHost(u *url.URL) bool {
	h := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		return net.ParseIP(h) != nil && strings.Contains(h, ":")
	}
	return net.ParseIP(h) != nil || hostName.MatchString(h)
}

// LayoutPath is where upstream URL https://HOST/PATH lives in a mirror and
// in a bundle (docs/profile.md, "mirror"): HOST/PATH, relative and clean, the path
// unescaped as it is named on disk. A URL CheckURL refuses has none.
func LayoutPath(upstream string) (string, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", fmt.Errorf("upstream URL %q: %w", upstream, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("upstream URL %q: want http(s)://HOST/PATH", upstream)
	}
	if err := CheckURL(u); err != nil {
		return "", fmt.Errorf("upstream URL %q: %w", upstream, err)
	}
	rel := path.Clean(u.Host + "/" + strings.TrimLeft(u.Path, "/"))
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("upstream URL %q: %w: %s is not a path below a directory", upstream, ErrNotAFile, rel)
	}
	return rel, nil
}

// Within joins the relative slash path rel to directory dir and fails
// unless the result is below dir: rel must be local (not absolute, no ".."
// after cleaning, not empty). Every path nodeup derives from a URL goes
// through it.
func Within(dir, rel string) (string, error) {
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) || path.Clean(rel) == "." {
		return "", fmt.Errorf("%w: %q is not a path below %s", ErrNotAFile, rel, dir)
	}
	return filepath.Join(dir, local), nil
}

// mirrorURL maps an upstream URL https://HOST/PATH to mirror M as
// M/HOST/PATH (docs/profile.md, "mirror"): the layout `nodeup bundle` writes, so a
// bundle directory is a file:// mirror and any static web server serves it.
// A trailing slash on M is ignored; the upstream's query is dropped. The
// mirror must be an http, https or file URL.
func mirrorURL(mirror, upstream string) (string, error) {
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

// hostPath is the HOST/PATH of an upstream URL, path still escaped, for
// joining to a mirror URL; the URL must pass CheckURL.
func hostPath(upstream string) (string, error) {
	if _, err := LayoutPath(upstream); err != nil {
		return "", err
	}
	u, _ := url.Parse(upstream)
	return u.Host + "/" + strings.TrimLeft(u.EscapedPath(), "/"), nil
}

// Candidates lists where to download upstream from, in order: each mirror's
// MirrorURL, then upstream itself if allowUpstream. Duplicates are dropped.
// A mirror with a bad scheme stays in the list, so Fetch reports it; an
// upstream URL that cannot name a file in a mirror has no mirror candidates.
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
