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

// An nvidia handler runs a binary nodeup does not install: the host must
// have it, at the default path or the one the runtime names.
func TestPreflightNvidiaRuntime(t *testing.T) {
	loaded, diags := load(t, write(t, t.TempDir(), "p.hcl", `
containerd {
  version = "2.3.4"
  cdi     = true
}
runc { version = "1.4.3" }
runtime "runc" { default = true }
runtime "nvidia" { type = "nvidia" }
runtime "nvidia-toolkit" {
  type   = "nvidia"
  binary = "/usr/local/nvidia/toolkit/nvidia-container-runtime"
}
`), Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	p := loaded.Profile
	have := map[string]bool{"/usr/bin/nvidia-container-runtime": true}
	d := CheckHost(p, HostFacts{Exists: func(path string) bool { return have[path] }})
	if len(d) != 1 || d[0].Severity != hcl.DiagError || d[0].Subject == nil || d[0].Subject.Start.Line != 9 ||
		!strings.Contains(d[0].Detail, `runtime "nvidia-toolkit" runs /usr/local/nvidia/toolkit/nvidia-container-runtime, which this host does not have`) {
		t.Errorf("one runtime missing its binary: %s", diagText(d))
	}
	have["/usr/local/nvidia/toolkit/nvidia-container-runtime"] = true
	if d := CheckHost(p, HostFacts{Exists: func(path string) bool { return have[path] }}); len(d) != 0 {
		t.Errorf("both binaries there: %s", diagText(d))
	}
}

// The distribution's containerd may be older than 1.7 and ignore CDI.
func TestCDIWithPackagedContainerd(t *testing.T) {
	_, diags := load(t, write(t, t.TempDir(), "p.hcl", `
containerd {
  source = "package"
  cdi    = true
}
`), Options{})
	if diags.HasErrors() || len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != 4 ||
		diags[0].Summary != "CDI with the distribution's containerd" {
		t.Errorf("want one warning at line 4: %s", diagText(diags))
	}
}

// Debian 12's crun refuses containerd 2's OCI specs; the distribution's
// version is unknown until install, so a packaged crun is a warning.
func TestPackagedCrunWithContainerd2(t *testing.T) {
	_, diags := load(t, write(t, t.TempDir(), "p.hcl", `
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
crun { source = "package" }
runtime "runc" { default = true }
runtime "crun" { type = "crun" }
`), Options{})
	if diags.HasErrors() || len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != 4 ||
		!strings.Contains(diags[0].Detail, "unknown version specified") {
		t.Errorf("want one warning at line 4: %s", diagText(diags))
	}
}
