package facts

import (
	"bufio"
	"context"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/paths"
)

// Preflight is what a node needs to run pods that nodeup does not
// install: files pod sandboxes mount, a hostname the kubelet can resolve,
// no swap (unless the kubelet allows it), and kernel modules.
type Preflight struct {
	EtcHosts   bool   `json:"etc_hosts"`   // /etc/hosts exists (sandboxes mount it)
	ResolvConf bool   `json:"resolv_conf"` // /etc/resolv.conf exists (sandboxes copy it)
	Hostname   string `json:"hostname"`
	// HostnameAddrs are the hostname's addresses; none when it does not
	// resolve.
	HostnameAddrs []string `json:"hostname_addrs"`
	// Swap lists the active swap areas (/proc/swaps); only for the
	// running system.
	Swap []string `json:"swap"`
	// Modules says, for the kubeadm prerequisite modules, whether the
	// running kernel has them loaded, available, or missing.
	Modules map[string]kernel.ModuleState `json:"modules,omitempty"`
}

// preflightModules are the modules facts reports on: the kubeadm
// prerequisites a profile loads by default.
var preflightModules = []string{"overlay", "br_netfilter"}

// GatherPreflight reads what a node needs before any pod runs: /etc/hosts,
// /etc/resolv.conf, a hostname that resolves, swap and the kernel modules.
// It runs no program, so plan and apply can afford it on every run.
func GatherPreflight(r Root, rootIsSlash bool) Preflight {
	var p Preflight
	exists := func(path string) bool {
		_, err := r.Stat(path)
		return err == nil
	}
	p.EtcHosts = exists(paths.Hosts)
	p.ResolvConf = exists(paths.ResolvConf)
	if rootIsSlash {
		p.Hostname, _ = os.Hostname()
		p.HostnameAddrs = resolve(p.Hostname)
		p.Swap = activeSwap("/proc/swaps")
		k := kernel.Local()
		p.Modules = map[string]kernel.ModuleState{}
		for _, m := range preflightModules {
			p.Modules[m] = k.Module(m)
		}
	} else {
		// An image: its own hostname, looked up in its own /etc/hosts.
		if b, ok := readFact(r, paths.Hostname); ok {
			p.Hostname = strings.TrimSpace(b)
		}
		if b, ok := readFact(r, paths.Hosts); ok && p.Hostname != "" {
			p.HostnameAddrs = hostsLookup(b, p.Hostname)
		}
	}
	return p
}

// resolve looks the hostname up as the kubelet does (/etc/hosts, then DNS),
// briefly: a node without DNS must not stall facts.
func resolve(host string) []string {
	if host == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil
	}
	return addrs
}

// hostsLookup finds host in the content of a hosts(5) file.
func hostsLookup(hosts, host string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(hosts))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		for _, name := range fields[min(1, len(fields)):] {
			if strings.EqualFold(name, host) {
				out = append(out, fields[0])
			}
		}
	}
	return out
}

// activeSwap lists the swap areas of /proc/swaps (its header skipped).
func activeSwap(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); i > 0 && len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// rows adds the preflight lines to facts' table.
func (p Preflight) rows(row func(k, format string, args ...any)) {
	present := map[bool]string{true: "present", false: "MISSING (pod sandboxes need it)"}
	row("hosts file", paths.Hosts+" %s", present[p.EtcHosts])
	row("resolv.conf", paths.ResolvConf+" %s", present[p.ResolvConf])
	switch {
	case p.Hostname == "":
		row("hostname", "unknown")
	case len(p.HostnameAddrs) == 0:
		row("hostname", "%s (does not resolve)", p.Hostname)
	default:
		row("hostname", "%s (%s)", p.Hostname, strings.Join(p.HostnameAddrs, ", "))
	}
	if len(p.Swap) == 0 {
		row("swap", "off")
	} else {
		row("swap", "on: %s", strings.Join(p.Swap, ", "))
	}
	var mods []string
	for _, m := range preflightModules {
		if st, ok := p.Modules[m]; ok {
			mods = append(mods, m+" "+string(st))
		}
	}
	if len(mods) > 0 {
		row("modules", "%s", strings.Join(mods, ", "))
	}
}
