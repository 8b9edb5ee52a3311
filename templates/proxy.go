package templates

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// ProxyEnvMode is the mode of the proxy's environment file: proxy URLs
// carry credentials.
const ProxyEnvMode = 0o600

// ProxyEnv renders paths.ProxyEnv, the environment file containerd's and
// the kubelet's proxy drop-ins read: HTTP_PROXY, HTTPS_PROXY and NO_PROXY
// (NoProxy) in both the upper-case spelling Go's proxy resolution reads and
// the lower-case one other tools read. Each value is double-quoted with
// systemd's (and the shell's) escapes, so a password holding `$` or `"`
// arrives as written.
func ProxyEnv(p *profile.Profile) ([]byte, error) {
	px := p.Node.Proxy
	var b strings.Builder
	b.WriteString("# " + header + "\n")
	for _, kv := range []struct{ name, value string }{
		{"HTTP_PROXY", px.HTTP},
		{"HTTPS_PROXY", px.HTTPS},
		{"NO_PROXY", strings.Join(NoProxy(p), ",")},
	} {
		if kv.value == "" {
			continue
		}
		if strings.ContainsAny(kv.value, "\n\r") {
			return nil, fmt.Errorf("%s: a newline cannot be passed in an environment file", kv.name)
		}
		q := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`).Replace(kv.value) + `"`
		fmt.Fprintf(&b, "%s=%s\n%s=%s\n", kv.name, q, strings.ToLower(kv.name), q)
	}
	return []byte(b.String()), nil
}

// ProxyDropIn renders the drop-in (paths.ContainerdProxyDropIn,
// paths.KubeletProxyDropIn) that gives a service the proxy: the
// environment file, which only root reads, rather than Environment= lines
// that systemctl show prints to anyone.
func ProxyDropIn() ([]byte, error) {
	return serializeUnit([]*unit.UnitOption{
		unit.NewUnitOption("Service", "EnvironmentFile", paths.ProxyEnv),
	})
}

// NoProxy is the no_proxy list nodeup renders: node.proxy.no_proxy as
// written, then what the profile knows must not go through the proxy: the
// node itself (localhost, its loopback addresses, and the name and
// addresses kubelet.flags give it with --hostname-override and --node-ip),
// the pod network (kubelet.config.podCIDR and the subnets of the
// host-local IPAM of cni.networks), and the cluster's services
// (kubelet.config.clusterDNS, .svc and .clusterDomain). Each entry once, in
// that order.
func NoProxy(p *profile.Profile) []string {
	var out []string
	seen := map[string]bool{}
	add := func(vs ...string) {
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	if p.Node.Proxy != nil {
		add(p.Node.Proxy.NoProxy...)
	}
	add("localhost", "127.0.0.1", "::1")
	for _, f := range p.Kubelet.Flags {
		name, value, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		switch name {
		case "hostname-override":
			add(value)
		case "node-ip":
			add(strings.Split(value, ",")...)
		}
	}
	if s, ok := p.Kubelet.Config["podCIDR"].(string); ok {
		add(s)
	}
	if p.CNI != nil {
		for _, n := range p.CNI.Networks {
			add(ipamSubnets(n.Config)...)
		}
	}
	if dns, ok := p.Kubelet.Config["clusterDNS"].([]any); ok {
		for _, d := range dns {
			if s, ok := d.(string); ok {
				add(s)
			}
		}
	}
	if domain, ok := p.Kubelet.Config["clusterDomain"].(string); ok && domain != "" {
		add(".svc", "."+strings.TrimPrefix(domain, "."))
	}
	return out
}

// ipamSubnets are the subnets the host-local IPAM of a CNI network list
// hands out: ipam.subnet and each ipam.ranges[][].subnet of its plugins.
func ipamSubnets(conflist string) []string {
	type rangeSet []struct {
		Subnet string `json:"subnet"`
	}
	var list struct {
		Plugins []struct {
			IPAM struct {
				Type   string     `json:"type"`
				Subnet string     `json:"subnet"`
				Ranges []rangeSet `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if json.Unmarshal([]byte(conflist), &list) != nil {
		return nil
	}
	var out []string
	for _, pl := range list.Plugins {
		if pl.IPAM.Type != "host-local" {
			continue
		}
		out = append(out, pl.IPAM.Subnet)
		for _, rs := range pl.IPAM.Ranges {
			for _, r := range rs {
				out = append(out, r.Subnet)
			}
		}
	}
	return out
}
