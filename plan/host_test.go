package plan

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestCheckHost(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", `
containerd { version = "2.3.4" }
runc { version = "1.4.3" }
kata { version = "3.32.0" }
runtime "runc" { default = true }
runtime "kata-qemu" { type = "kata" }
kubelet {
  version = "1.35.8"
}
`)
	loaded, diags := load(t, path, Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	p := loaded.Profile
	summaries := func(d hcl.Diagnostics) map[string]hcl.DiagnosticSeverity {
		out := map[string]hcl.DiagnosticSeverity{}
		for _, x := range d {
			out[x.Summary] = x.Severity
		}
		return out
	}
	got := summaries(CheckHost(p, HostFacts{KVM: false, CgroupV1: true}))
	if got["kata without /dev/kvm"] != hcl.DiagWarning || got["kubelet refuses cgroup v1"] != hcl.DiagError {
		t.Errorf("no kvm, cgroup v1: %v", got)
	}
	if d := CheckHost(p, HostFacts{KVM: true, CgroupV1: false}); len(d) != 0 {
		t.Errorf("kvm, cgroup v2: %v", d)
	}
	p.Kubelet.Config["failCgroupV1"] = false
	got = summaries(CheckHost(p, HostFacts{KVM: true, CgroupV1: true}))
	if _, bad := got["kubelet refuses cgroup v1"]; bad || got["cgroup v1 host"] != hcl.DiagWarning {
		t.Errorf("failCgroupV1 = false: %v", got)
	}
	p.Kubelet.Config = map[string]any{}
	p.Kubelet.Version = "1.34.11"
	got = summaries(CheckHost(p, HostFacts{KVM: true, CgroupV1: true}))
	if _, bad := got["kubelet refuses cgroup v1"]; bad {
		t.Errorf("kubelet 1.34 accepts cgroup v1: %v", got)
	}
}
