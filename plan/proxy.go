package plan

import (
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// decodeProxy decodes node.proxy, an object of http, https and no_proxy.
// A password in a proxy URL is sensitive from here on, like a sensitive
// variable's value: it never prints, and the files that hold it are 0600.
func (l *loader) decodeProxy(a attrs, n *profile.Node) {
	values, keyAt, ok := a.settings("proxy", "Invalid proxy", `{ http = "http://proxy:3128", https = "http://proxy:3128", no_proxy = ["10.0.0.0/8"] }`)
	if !ok {
		return
	}
	at := a.rangeOf("proxy")
	px := &profile.Proxy{DeclRange: *at}
	for _, key := range sortedKeys(values) {
		e := values[key]
		switch key {
		case "http", "https":
			s, err := convert.Convert(e, cty.String)
			if err != nil {
				l.errorf(keyAt(key), "Invalid proxy", "node.proxy.%s must be a URL string.", key)
				continue
			}
			if key == "http" {
				px.HTTP = s.AsString()
			} else {
				px.HTTPS = s.AsString()
			}
		case "no_proxy":
			list, err := convert.Convert(e, cty.List(cty.String))
			if err != nil || !list.IsWhollyKnown() {
				l.errorf(keyAt(key), "Invalid proxy", "node.proxy.no_proxy must be a list of host names, domains, addresses and CIDRs.")
				continue
			}
			px.NoProxy = []string{}
			for it := list.ElementIterator(); it.Next(); {
				_, s := it.Element()
				if s.IsNull() {
					continue
				}
				px.NoProxy = append(px.NoProxy, s.AsString())
			}
		default:
			l.errorf(keyAt(key), "Unknown proxy setting", "node.proxy has %q; it takes http, https and no_proxy.", key)
		}
	}
	for _, raw := range []string{px.HTTP, px.HTTPS} {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if pw, set := u.User.Password(); set {
				l.addSensitive(raw, pw)
				l.taints = append(l.taints, *at)
			}
		}
	}
	n.Proxy = px
}

// validateProxy checks node.proxy: proxy URLs, and no_proxy entries that
// fit in a comma-separated list.
func (l *loader) validateProxy(p *profile.Profile) {
	px := p.Node.Proxy
	if px == nil {
		return
	}
	at := func(key string) *hcl.Range { return l.at(joinKey("node.proxy", key), px.DeclRange) }
	if p.Node.OS != profile.OSLinux {
		l.errorf(px.DeclRange.Ptr(), "Proxy on Windows", "node.proxy is given to containerd and the kubelet through systemd; a Windows node is rendered only. Remove node.proxy.")
		return
	}
	if px.HTTP == "" && px.HTTPS == "" {
		l.errorf(px.DeclRange.Ptr(), "Proxy without a URL", "node.proxy needs http, https or both, such as http = \"http://proxy:3128\".")
	}
	for _, key := range []string{"http", "https"} {
		raw := px.HTTP
		if key == "https" {
			raw = px.HTTPS
		}
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || !oneOf(u.Scheme, "http", "https", "socks5", "socks5h") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			l.errorf(at(key), "Invalid proxy URL", "node.proxy.%s must be a proxy's URL, scheme://[user:password@]host[:port], with the scheme http, https, socks5 or socks5h.", key)
		}
	}
	for _, e := range px.NoProxy {
		if e == "" || strings.ContainsAny(e, ", \t\n\r") {
			l.errorf(at("no_proxy"), "Invalid no_proxy entry", "node.proxy.no_proxy has %q; each entry is one host name, .domain, address or CIDR, without commas or spaces.", e)
		}
	}
}

// proxyFileRange is where the files of node.proxy come from.
func proxyFileRange(p *profile.Profile, nodePath string) (hcl.Range, bool) {
	if p.Node.Proxy == nil {
		return hcl.Range{}, false
	}
	switch nodePath {
	case paths.ProxyEnv, paths.ContainerdProxyDropIn, paths.KubeletProxyDropIn:
		return p.Node.Proxy.DeclRange, true
	}
	return hcl.Range{}, false
}
