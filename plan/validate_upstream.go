package plan

import (
	"strings"

	"golang.org/x/mod/semver"

	"github.com/nodeup/nodeup/profile"
)

// Kubernetes deprecates containerd 1.x (KEP-4033): the kubelet warns from
// 1.36 and drops its fallback for runtimes that cannot report their cgroup
// driver in 1.38.
const (
	containerd1WarnFrom   = "v1.36.0"
	containerd1RefuseFrom = "v1.38.0"
)

// validateUpstream checks the pairings upstream documents between the
// components a profile installs.
func (l *loader) validateUpstream(p *profile.Profile) {
	l.validateContainerd1(p)
	for _, r := range p.Runtimes {
		hv, ok := profile.LookupKataHypervisor(r.Hypervisor)
		if r.Type != profile.RuntimeKata || !ok || !hv.BlockDeviceOnly() {
			continue
		}
		if r.Snapshotter == "" && !strings.Contains(p.Containerd.RawConfig, "snapshotter") {
			l.warnf(l.at("runtime."+r.Name+".hypervisor", r.DeclRange), "Firecracker without a block-device snapshotter",
				"runtime %q runs kata with %s, which takes a container's root filesystem only as a block device: with containerd's default overlayfs snapshotter its pods cannot start. Configure the devmapper snapshotter (in containerd.config) and set snapshotter = \"devmapper\" on this runtime.", r.Name, hv.Name)
		}
	}
}

// validateContainerd1 warns of containerd 1.x beside a kubelet that
// deprecates it, and refuses it beside one that no longer supports it.
func (l *loader) validateContainerd1(p *profile.Profile) {
	cv, kv := semverOf(p.Containerd.Version), semverOf(p.Kubelet.Version)
	if cv == "" || kv == "" || semver.Major(cv) != "v1" || semver.Compare(kv, containerd1WarnFrom) < 0 {
		return
	}
	at := l.at("containerd.version", p.Containerd.DeclRange)
	if semver.Compare(kv, containerd1RefuseFrom) >= 0 {
		l.errorf(at, "containerd 1.x with this kubelet",
			"kubelet %s no longer supports containerd 1.x (KEP-4033): it needs a runtime that reports its cgroup driver over CRI. Use containerd 2.x, e.g. version = \"2.3.4\".", p.Kubelet.Version)
		return
	}
	l.warnf(at, "containerd 1.x is deprecated by this kubelet",
		"Kubernetes deprecates containerd 1.x from kubelet 1.36 (KEP-4033) and kubelet 1.38 drops it; containerd %s will not run a kubelet 1.38 node. Plan the move to containerd 2.x.", p.Containerd.Version)
}

// semverOf is version in semver's form, or "" when it is not a version.
func semverOf(version string) string {
	v := "v" + strings.TrimPrefix(version, "v")
	if version == "" || !semver.IsValid(v) {
		return ""
	}
	return v
}
