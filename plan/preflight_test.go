package plan

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/kernel"
)

func TestPreflight(t *testing.T) {
	loaded, diags := load(t, write(t, t.TempDir(), "p.hcl", `
node { kernel_modules = ["overlay", "br_netfilter", "ip_vs"] }
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kubelet {
  version = "1.34.11"
  config  = { maxPods = 20 }
}
`), Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	p := loaded.Profile
	healthy := HostFacts{
		Controllers: []string{"cpuset", "cpu", "io", "memory", "pids"},
		Preflight:   &facts.Preflight{EtcHosts: true, ResolvConf: true, Hostname: "node-1", HostnameAddrs: []string{"10.0.0.7"}},
		Module:      func(string) kernel.ModuleState { return kernel.ModuleAvailable },
	}
	if d := CheckHost(p, healthy); len(d) != 0 {
		t.Errorf("healthy host: %s", diagText(d))
	}

	broken := HostFacts{
		Controllers: []string{"cpuset", "cpu", "io"},
		Preflight:   &facts.Preflight{Hostname: "node-1", Swap: []string{"/dev/vda2"}},
		Module: func(m string) kernel.ModuleState {
			if m == "ip_vs" {
				return kernel.ModuleMissing
			}
			return kernel.ModuleLoaded
		},
	}
	d := CheckHost(p, broken)
	for _, want := range []struct {
		sev  hcl.DiagnosticSeverity
		line int
		text string
	}{
		{hcl.DiagError, 0, "Create it: printf '127.0.0.1 localhost"},
		{hcl.DiagError, 0, "touch /etc/resolv.conf"},
		{hcl.DiagWarning, 5, "node-1 and looks that name up"},
		{hcl.DiagError, 5, "Swap is on (/dev/vda2)"},
		{hcl.DiagError, 2, "no memory, pids controller"},
		{hcl.DiagError, 2, "no ip_vs module"},
	} {
		found := false
		for _, x := range d {
			line := 0
			if x.Subject != nil {
				line = x.Subject.Start.Line
			}
			found = found || (x.Severity == want.sev && line == want.line && strings.Contains(x.Summary+": "+x.Detail, want.text))
		}
		if !found {
			t.Errorf("no diagnostic at line %d with %q in:\n%s", want.line, want.text, diagText(d))
		}
	}
	if len(d) != 6 {
		t.Errorf("%d diagnostics:\n%s", len(d), diagText(d))
	}

	// failSwapOn = false lets the kubelet run with swap; no kubelet, no
	// kubelet-only checks.
	p.Kubelet.Config["failSwapOn"] = false
	if d := CheckHost(p, HostFacts{Preflight: &facts.Preflight{EtcHosts: true, ResolvConf: true, Swap: []string{"/swapfile"}}}); len(d) != 0 {
		t.Errorf("swap with failSwapOn = false: %s", diagText(d))
	}
	p.Kubelet.Declared = false
	if d := CheckHost(p, HostFacts{Controllers: []string{"cpu"}, Preflight: &facts.Preflight{EtcHosts: true, ResolvConf: true, Hostname: "x"}}); len(d) != 1 || d[0].Severity != hcl.DiagWarning {
		t.Errorf("without a kubelet: %s", diagText(d))
	}
}
