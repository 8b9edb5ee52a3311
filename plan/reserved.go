package plan

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// reservedResources maps the resources kubelet.reserved takes to the
// kubelet's names for them.
var reservedResources = map[string]string{
	"cpu":               "cpu",
	"memory":            "memory",
	"ephemeral_storage": "ephemeral-storage",
}

// decodeReserved decodes kubelet.reserved: { system = {...}, kube = {...},
// enforce = bool }, each of system and kube a map of cpu, memory and
// ephemeral_storage to quantities. Errors point at the key they concern.
func (l *loader) decodeReserved(a attrs, k *profile.Kubelet) {
	values, keyAt, ok := a.settings("reserved", "Invalid kubelet.reserved", `{ system = { cpu = "100m", memory = "256Mi" }, kube = { cpu = "100m", memory = "256Mi" }, enforce = false }`)
	if !ok {
		return
	}
	r := &profile.KubeletReserved{DeclRange: *a.rangeOf("reserved")}
	for _, key := range sortedKeys(values) {
		e := values[key]
		switch key {
		case "system":
			r.System = l.reservedQuantities(e, key, keyAt(key))
		case "kube":
			r.Kube = l.reservedQuantities(e, key, keyAt(key))
		case "enforce":
			b, err := convert.Convert(e, cty.Bool)
			if err != nil {
				l.errorf(keyAt(key), "Invalid kubelet.reserved", "kubelet.reserved.enforce must be true or false.")
				continue
			}
			r.Enforce = b.True()
		default:
			l.errorf(keyAt(key), "Unknown kubelet.reserved setting", "kubelet.reserved has %q; it takes system, kube and enforce.", key)
		}
	}
	k.Reserved = r
}

// reservedQuantities decodes kubelet.reserved.system or .kube into the
// kubelet's resource names.
func (l *loader) reservedQuantities(v cty.Value, key string, at *hcl.Range) map[string]string {
	m, err := convert.Convert(v, cty.Map(cty.String))
	if err != nil {
		l.errorf(at, "Invalid kubelet.reserved", "kubelet.reserved.%s must map cpu, memory and ephemeral_storage to quantities, such as { cpu = \"100m\", memory = \"256Mi\" }.", key)
		return nil
	}
	out := map[string]string{}
	for it := m.ElementIterator(); it.Next(); {
		kv, e := it.Element()
		name, q := kv.AsString(), ""
		if !e.IsNull() {
			q = e.AsString()
		}
		kubelet, known := reservedResources[name]
		if !known {
			l.errorf(at, "Unknown resource", "kubelet.reserved.%s has %q; it takes cpu, memory and ephemeral_storage.", key, name)
			continue
		}
		if parsed, err := resource.ParseQuantity(q); err != nil || parsed.Sign() < 0 {
			l.errorf(at, "Invalid quantity", "kubelet.reserved.%s.%s = %q is not a quantity such as \"100m\", \"256Mi\" or \"1Gi\".", key, name, q)
			continue
		}
		out[kubelet] = q
	}
	return out
}

// validateReserved checks what kubelet.reserved needs beyond its shape.
func (l *loader) validateReserved(p *profile.Profile) {
	r := p.Kubelet.Reserved
	if r == nil {
		return
	}
	if p.Node.OS != profile.OSLinux {
		l.errorf(r.DeclRange.Ptr(), "kubelet.reserved on Windows", "A Windows kubelet enforces no node allocatable (nodeup renders enforceNodeAllocatable = [\"none\"]); remove kubelet.reserved.")
		return
	}
	if r.Enforce && len(r.System) == 0 && len(r.Kube) == 0 {
		l.errorf(l.at("kubelet.reserved", r.DeclRange), "Nothing to enforce", "kubelet.reserved.enforce = true caps the cgroups of what system and kube reserve; reserve something, or remove enforce.")
	}
}

// reservedFileRange is where the files of kubelet.reserved come from.
func reservedFileRange(p *profile.Profile, nodePath string) (hcl.Range, bool) {
	r := p.Kubelet.Reserved
	if r == nil {
		return hcl.Range{}, false
	}
	switch nodePath {
	case paths.KubeSliceUnit, paths.ContainerdSliceDropIn, paths.KubeletSliceDropIn, paths.SystemSliceDropIn:
		return r.DeclRange, true
	}
	return hcl.Range{}, false
}
