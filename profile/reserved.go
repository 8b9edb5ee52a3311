package profile

import "github.com/hashicorp/hcl/v2"

// KubeletReserved is kubelet.reserved: what the node keeps from pods for
// the operating system's daemons (System) and for Kubernetes' own, the
// kubelet and containerd (Kube), by the kubelet's resource names (cpu,
// memory, ephemeral-storage) as quantities; with Enforce the kubelet also
// caps those daemons' cgroups at what is reserved.
type KubeletReserved struct {
	System    map[string]string
	Kube      map[string]string
	Enforce   bool
	DeclRange hcl.Range // where kubelet.reserved was written
}
