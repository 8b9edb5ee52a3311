package templates

import (
	"github.com/coreos/go-systemd/v22/unit"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// The enforceNodeAllocatable keys of kubelet.reserved's enforcement.
const (
	enforcePods           = "pods"
	enforceSystemReserved = "system-reserved"
	enforceKubeReserved   = "kube-reserved"
)

// ReservedCgroup is the cgroup name the kubelet is given for a slice:
// the slice's path from the root, which the kubelet reads as that
// slice's cgroup under the systemd driver (ParseSystemdToCgroupName) and
// as the same directory under cgroupfs.
func ReservedCgroup(slice string) string { return "/" + slice }

// reservedFields are the KubeletConfiguration fields kubelet.reserved
// gives: systemReserved and kubeReserved, and with enforce the
// enforcement keys and the cgroups they cap. While kubelet.reserved is
// set they are its, also where it leaves them unset.
func reservedFields(p *profile.Profile) []derivedField {
	r := p.Kubelet.Reserved
	if r == nil {
		return nil
	}
	cfg := &kubeletv1beta1.KubeletConfiguration{}
	applyReserved(cfg, r)
	orNil := func(v any, set bool) any {
		if !set {
			return nil
		}
		return v
	}
	return []derivedField{
		{"systemReserved", "kubelet.reserved.system", orNil(cfg.SystemReserved, len(r.System) > 0)},
		{"kubeReserved", "kubelet.reserved.kube", orNil(cfg.KubeReserved, len(r.Kube) > 0)},
		{"enforceNodeAllocatable", "kubelet.reserved.enforce", orNil(cfg.EnforceNodeAllocatable, r.Enforce)},
		{"systemReservedCgroup", "kubelet.reserved.enforce", orNil(cfg.SystemReservedCgroup, cfg.SystemReservedCgroup != "")},
		{"kubeReservedCgroup", "kubelet.reserved.enforce", orNil(cfg.KubeReservedCgroup, cfg.KubeReservedCgroup != "")},
	}
}

// applyReserved sets the fields of kubelet.reserved in cfg: the
// reservations, and with Enforce the kubelet caps pods at what is left
// (pods), and the system and Kubernetes daemons at their reservations in
// the cgroups of their slices (system.slice, systemd's own; kube.slice,
// where nodeup's drop-ins put containerd and the kubelet).
func applyReserved(cfg *kubeletv1beta1.KubeletConfiguration, r *profile.KubeletReserved) {
	if len(r.System) > 0 {
		cfg.SystemReserved = r.System
	}
	if len(r.Kube) > 0 {
		cfg.KubeReserved = r.Kube
	}
	if !r.Enforce {
		return
	}
	cfg.EnforceNodeAllocatable = []string{enforcePods}
	if len(r.System) > 0 {
		cfg.EnforceNodeAllocatable = append(cfg.EnforceNodeAllocatable, enforceSystemReserved)
		cfg.SystemReservedCgroup = ReservedCgroup(paths.SystemSlice)
	}
	if len(r.Kube) > 0 {
		cfg.EnforceNodeAllocatable = append(cfg.EnforceNodeAllocatable, enforceKubeReserved)
		cfg.KubeReservedCgroup = ReservedCgroup(paths.KubeSlice)
	}
}

// EnforcesKubeReserved reports whether the kubelet caps kube.slice: then
// containerd and the kubelet run in it.
func EnforcesKubeReserved(p *profile.Profile) bool {
	r := p.Kubelet.Reserved
	return r != nil && r.Enforce && len(r.Kube) > 0
}

// EnforcesSystemReserved reports whether the kubelet caps system.slice.
func EnforcesSystemReserved(p *profile.Profile) bool {
	r := p.Kubelet.Reserved
	return r != nil && r.Enforce && len(r.System) > 0
}

// sliceAccounting has systemd enable the cpu, memory and pids controllers
// for a slice's cgroup: the kubelet's cgroupfs driver writes the caps
// into it directly and finds no files where a controller is off.
func sliceAccounting() []*unit.UnitOption {
	return []*unit.UnitOption{
		unit.NewUnitOption("Slice", "CPUAccounting", "yes"),
		unit.NewUnitOption("Slice", "CPUWeight", "100"),
		unit.NewUnitOption("Slice", "MemoryAccounting", "yes"),
		unit.NewUnitOption("Slice", "TasksAccounting", "yes"),
	}
}

// KubeSliceUnit renders paths.KubeSliceUnit, the slice of containerd and
// the kubelet that kubeReservedCgroup names. Its cgroup exists once a
// unit runs in it, under either cgroup driver.
func KubeSliceUnit() ([]byte, error) {
	return serializeUnit(append([]*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "Kubernetes node daemons (the kubelet's kubeReservedCgroup)"),
		unit.NewUnitOption("Unit", "Before", "slices.target"),
	}, sliceAccounting()...))
}

// SliceDropIn renders the drop-in that runs containerd or the kubelet in
// kube.slice.
func SliceDropIn() ([]byte, error) {
	return serializeUnit([]*unit.UnitOption{unit.NewUnitOption("Service", "Slice", paths.KubeSlice)})
}

// SystemSliceDropIn renders the drop-in of system.slice, the cgroup
// systemReservedCgroup names.
func SystemSliceDropIn() ([]byte, error) { return serializeUnit(sliceAccounting()) }
