package plan

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/facts"
	"github.com/nodeup/nodeup/node/kernel"

	"github.com/nodeup/nodeup/profile"
)

// HostFacts are the facts about a host the profile is checked against
// before plan and apply.
type HostFacts struct {
	KVM      bool // /dev/kvm is there
	CgroupV1 bool // the host mounts cgroup v1
	// Controllers are the cgroup v2 controllers of the root cgroup; nil
	// when unknown.
	Controllers []string
	// Preflight is what the node offers pods; nil when not checked.
	Preflight *facts.Preflight
	// Module says what the running kernel offers of a module; nil when
	// not checked.
	Module func(name string) kernel.ModuleState
	// Exists says whether a node path exists; nil when not checked.
	Exists func(path string) bool
}

// firstKubeletRefusingCgroupV1 is the first kubelet release whose
// failCgroupV1 defaults to true: it will not start on a cgroup v1 host.
const firstKubeletRefusingCgroupV1 = "1.35.0"

// CheckHost reports what a profile would meet on this host: warnings for
// kata without /dev/kvm and for cgroup v1, and an error when the kubelet
// to be installed refuses cgroup v1 and the profile does not let it.
func CheckHost(p *profile.Profile, h HostFacts) hcl.Diagnostics {
	diags := checkPreflight(p, h)
	if p.Kata != nil && !h.KVM {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "kata without /dev/kvm",
			Detail:   "This host has no /dev/kvm, so kata pods cannot start here; the kata handler is still installed and registered.",
			Subject:  p.Kata.DeclRange.Ptr(),
		})
	}
	if !h.CgroupV1 {
		return diags
	}
	k := p.Kubelet
	failV1, set := k.Config["failCgroupV1"].(bool)
	refuses := k.Declared && k.Version != "" && profile.CompareVersions(k.Version, firstKubeletRefusingCgroupV1) >= 0 && (!set || failV1)
	if refuses {
		subject := k.DeclRange
		if r, ok := k.ConfigRanges["failCgroupV1"]; ok {
			subject = r
		}
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "kubelet refuses cgroup v1",
			Detail:   "This host uses cgroup v1, and kubelet " + k.Version + " will not start on it unless kubelet.config sets failCgroupV1 = false. Move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1), or set failCgroupV1 = false.",
			Subject:  subject.Ptr(),
		})
	}
	return append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "cgroup v1 host",
		Detail:   "This host uses cgroup v1, which containerd 2.2+ and Kubernetes deprecate; plan a move to cgroup v2.",
		Subject:  p.Node.DeclRange.Ptr(),
	})
}

// CheckTarget refuses a profile that plan and apply cannot converge on this
// kind of host: a Windows node's files are rendered only (nodeup render),
// since nodeup installs and starts Linux services.
func CheckTarget(p *profile.Profile) hcl.Diagnostics {
	if p.Node.OS != profile.OSWindows {
		return nil
	}
	subject := p.Node.DeclRange
	if p.Node.OSRange.Filename != "" {
		subject = p.Node.OSRange
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Windows nodes are render-only",
		Detail:   "node.os = \"windows\": nodeup cannot install or start anything on a Windows node. Use nodeup render PROFILE --out DIR to write its files, or set node.os = \"linux\".",
		Subject:  subject.Ptr(),
	}}
}
