package plan

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"golang.org/x/net/http/httpguts"

	"github.com/nodeup/nodeup/profile"
)

// hostAttrs are what a registry block and its host blocks both set: one
// host's settings in containerd's hosts.toml.
var hostAttrs = []string{"capabilities", "ca", "client_cert", "client_key", "headers", "skip_verify", "override_path"}

var registrySchema = &hcl.BodySchema{
	Attributes: attrSchema(append([]string{"server", "mirrors"}, hostAttrs...)...),
	Blocks:     []hcl.BlockHeaderSchema{{Type: "host", LabelNames: []string{"url"}}},
}

var registryHostSchema = &hcl.BodySchema{Attributes: attrSchema(hostAttrs...)}

// registryKey is where the attributes of a registry block are recorded
// ("containerd.registry.HOST"); with a URL, those of its host block.
func registryKey(host string, hostURL ...string) string {
	k := joinKey("containerd.registry", host)
	if len(hostURL) > 0 {
		k = joinKey(k, "host", hostURL[0])
	}
	return k
}

// registryName is how messages name a registry block, or one of its host
// blocks: as the profile writes it.
func registryName(host string, hostURL ...string) string {
	s := fmt.Sprintf("registry %q", host)
	if len(hostURL) > 0 {
		s += fmt.Sprintf(" host %q", hostURL[0])
	}
	return s
}

// decodeRegistry decodes a registry block and its host blocks, in order. A
// host block that does not set skip_verify takes the registry's, as a
// mirror of the mirrors list does.
func (l *loader) decodeRegistry(blk *hcl.Block) profile.Registry {
	r := profile.Registry{Host: blk.Labels[0], DeclRange: blk.DefRange}
	content := l.blockAttrs(blk, registrySchema)
	a := l.attrs(registryKey(r.Host), content)
	a.str("server", &r.Server)
	a.strList("mirrors", &r.Mirrors)
	l.hostSettings(a, registryName(r.Host), &r.HostSettings)
	for _, hb := range content.Blocks {
		h := profile.RegistryHost{URL: hb.Labels[0], DeclRange: hb.DefRange}
		key := registryKey(r.Host, h.URL)
		l.ranges[joinKey(key, "url")] = hb.LabelRanges[0]
		ha := l.attrs(key, l.blockAttrs(hb, registryHostSchema))
		h.SkipVerify = r.SkipVerify
		l.hostSettings(ha, registryName(r.Host, h.URL), &h.HostSettings)
		r.Hosts = append(r.Hosts, h)
	}
	return r
}

// hostSettings decodes the settings of one host. The client key is
// sensitive wherever it comes from: it is never printed, and the file
// holding it is its owner's alone.
func (l *loader) hostSettings(a attrs, what string, s *profile.HostSettings) {
	a.strList("capabilities", &s.Capabilities)
	a.str("ca", &s.CA)
	a.str("client_cert", &s.ClientCert)
	if a.str("client_key", &s.ClientKey) {
		l.addSensitive(s.ClientKey)
		l.taints = append(l.taints, *a.rangeOf("client_key"))
	}
	a.boolean("skip_verify", &s.SkipVerify)
	a.boolean("override_path", &s.OverridePath)
	l.headers(a, what, s)
}

// headers decodes a headers map: each value a string or a list of strings,
// each pair's place recorded as PREFIX.headers.NAME.
func (l *loader) headers(a attrs, what string, s *profile.HostSettings) {
	v, ok := a.value("headers", cty.DynamicPseudoType)
	if !ok {
		return
	}
	at := a.rangeOf("headers")
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		l.errorf(at, "Incorrect attribute value type", "headers of %s must be a map of header names to a string or a list of strings, e.g. { Authorization = \"Basic ...\" }.", what)
		return
	}
	ranges := a.keyRanges("headers")
	s.Headers = map[string][]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		name := k.AsString()
		if r, ok := ranges[name]; ok {
			l.ranges[joinKey(a.prefix, "headers", name)] = r
		}
		where := l.at(joinKey(a.prefix, "headers", name), *at)
		var values []string
		if list, err := convert.Convert(e, cty.List(cty.String)); err == nil && !list.IsNull() {
			for vi := list.ElementIterator(); vi.Next(); {
				_, ev := vi.Element()
				if ev.IsNull() {
					values = nil
					break
				}
				values = append(values, ev.AsString())
			}
		} else if str, err := convert.Convert(e, cty.String); err == nil && !str.IsNull() {
			values = []string{str.AsString()}
		}
		if len(values) == 0 {
			l.errorf(where, "Invalid header value", "header %q of %s must be a string or a non-empty list of strings.", name, what)
			continue
		}
		s.Headers[name] = values
	}
}

// validateRegistry checks a registry block the way containerd will read
// its hosts.toml: URLs of http or https hosts, known capabilities,
// certificates that parse, a client key that matches its certificate, and
// header names and values an HTTP request can carry.
func (l *loader) validateRegistry(r profile.Registry) {
	key, what := registryKey(r.Host), registryName(r.Host)
	if r.Server != "" {
		l.checkRegistryURL(r.Server, l.at(joinKey(key, "server"), r.DeclRange), "server of "+what)
	}
	seen := map[string]bool{}
	for _, m := range r.Mirrors {
		at := l.at(joinKey(key, "mirrors"), r.DeclRange)
		l.checkRegistryURL(m, at, "mirrors of "+what)
		if seen[m] {
			l.errorf(at, "Duplicate mirror", "mirrors of %s lists %q twice.", what, m)
		}
		seen[m] = true
	}
	l.validateHostSettings(key, what, r.DeclRange, r.HostSettings)
	blocks := map[string]bool{}
	for _, h := range r.Hosts {
		hk := registryKey(r.Host, h.URL)
		at := l.at(joinKey(hk, "url"), h.DeclRange)
		l.checkRegistryURL(h.URL, at, "host of "+what)
		if blocks[h.URL] {
			l.errorf(at, "Duplicate host", "%s declares host %q twice.", what, h.URL)
		}
		blocks[h.URL] = true
		l.validateHostSettings(hk, registryName(r.Host, h.URL), h.DeclRange, h.HostSettings)
	}
}

// checkRegistryURL checks the URL of a registry host: http or https, a
// host, and no credentials, query or fragment (containerd would drop them).
func (l *loader) checkRegistryURL(raw string, at *hcl.Range, what string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		l.errorf(at, "Invalid URL", "%s: %q is not a registry URL such as \"https://registry.internal:5000\" (http or https, a host, an optional path; no user, query or fragment).", what, raw)
	}
}

func (l *loader) validateHostSettings(key, what string, decl hcl.Range, s profile.HostSettings) {
	attr := func(name string) *hcl.Range { return l.at(joinKey(key, name), decl) }
	if s.Capabilities != nil && len(s.Capabilities) == 0 {
		l.errorf(attr("capabilities"), "No capabilities", "capabilities of %s is empty; list some of \"pull\", \"resolve\" and \"push\", or leave it out.", what)
	}
	for _, c := range s.Capabilities {
		if !oneOf(c, profile.CapabilityPull, profile.CapabilityResolve, profile.CapabilityPush) {
			l.errorf(attr("capabilities"), "Unknown capability", "capabilities of %s: %q is not one of \"pull\", \"resolve\" and \"push\".", what, c)
		}
	}
	if s.CA != "" {
		if err := checkCertificates(s.CA); err != nil {
			l.errorf(attr("ca"), "Invalid certificate", "ca of %s: %v.", what, err)
		}
	}
	switch {
	case s.ClientKey != "" && s.ClientCert == "":
		l.errorf(attr("client_key"), "client_key without client_cert", "client_key of %s needs the client_cert it belongs to.", what)
	case s.ClientCert != "" && s.ClientKey == "":
		l.errorf(attr("client_cert"), "client_cert without client_key", "client_cert of %s needs its client_key.", what)
	case s.ClientCert != "":
		if err := checkCertificates(s.ClientCert); err != nil {
			l.errorf(attr("client_cert"), "Invalid certificate", "client_cert of %s: %v.", what, err)
		} else if _, err := tls.X509KeyPair([]byte(s.ClientCert), []byte(s.ClientKey)); err != nil {
			// crypto/tls says what is wrong without the key's content.
			l.errorf(attr("client_key"), "Invalid client key", "client_key of %s: %v.", what, strings.TrimPrefix(err.Error(), "tls: "))
		}
	}
	for _, name := range sortedKeys(s.Headers) {
		at := l.at(joinKey(key, "headers", name), *attr("headers"))
		if !httpguts.ValidHeaderFieldName(name) {
			l.errorf(at, "Invalid header name", "headers of %s: %q is not an HTTP header name.", what, name)
		}
		for _, v := range s.Headers[name] {
			if !httpguts.ValidHeaderFieldValue(v) {
				l.errorf(at, "Invalid header value", "header %q of %s holds a character an HTTP header cannot carry (a line break or another control character).", name, what)
				break
			}
		}
	}
}

// checkCertificates checks that pemText is one or more PEM certificates
// that crypto/x509 parses, and nothing else.
func checkCertificates(pemText string) error {
	rest := []byte(pemText)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %d is a %s, not a CERTIFICATE", n, b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %v", n, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("no PEM certificate found (\"-----BEGIN CERTIFICATE-----\")")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("text after the last certificate is not PEM")
	}
	return nil
}
