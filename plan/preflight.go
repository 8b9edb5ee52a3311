package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/kernel"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// kubeletControllers are the cgroup v2 controllers the kubelet needs.
var kubeletControllers = []string{"cpu", "memory", "pids"}

// checkPreflight reports what a node lacks to run pods, each with its fix:
// errors for what stops every pod or the kubelet, warnings for what only
// may.
func checkPreflight(p *profile.Profile, h HostFacts) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(sev hcl.DiagnosticSeverity, subject hcl.Range, summary, format string, args ...any) {
		d := &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: fmt.Sprintf(format, args...)}
		if subject.Filename != "" {
			d.Subject = subject.Ptr()
		}
		diags = append(diags, d)
	}
	k := p.Kubelet
	if pf := h.Preflight; pf != nil {
		if !pf.EtcHosts {
			add(hcl.DiagError, hcl.Range{}, "No "+paths.Hosts,
				"This host has no %s, and every pod sandbox mounts it: no pod can start. Create it: printf '127.0.0.1 localhost\\n::1 localhost\\n' > %s", paths.Hosts, paths.Hosts)
		}
		if !pf.ResolvConf {
			add(hcl.DiagError, hcl.Range{}, "No "+paths.ResolvConf,
				"This host has no %s, which containerd copies into every pod sandbox: no pod can start. Create it (an empty file will do on a node without DNS): touch %s", paths.ResolvConf, paths.ResolvConf)
		}
		if pf.Hostname != "" && len(pf.HostnameAddrs) == 0 && k.Declared {
			add(hcl.DiagWarning, k.DeclRange, "Hostname does not resolve",
				"The kubelet names the node %s and looks that name up for the node's address, but it does not resolve here. Add it to %s (the node's address, or 127.0.1.1 %s), or pass --node-ip in kubelet.flags.", pf.Hostname, paths.Hosts, pf.Hostname)
		}
		failSwapOn, set := k.Config["failSwapOn"].(bool)
		if len(pf.Swap) > 0 && k.Declared && (!set || failSwapOn) {
			subject := k.DeclRange
			if r, ok := k.ConfigRanges["failSwapOn"]; ok {
				subject = r
			}
			add(hcl.DiagError, subject, "Swap is on",
				"Swap is on (%s), and the kubelet will not start with swap while failSwapOn is true (its default). Turn swap off (swapoff -a, and remove it from /etc/fstab), or set failSwapOn = false in kubelet.config.", strings.Join(pf.Swap, ", "))
		}
	}
	if h.Controllers != nil && !h.CgroupV1 {
		var missing []string
		for _, c := range kubeletControllers {
			if !slices.Contains(h.Controllers, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			sev := hcl.DiagWarning
			if k.Declared {
				sev = hcl.DiagError
			}
			add(sev, p.Node.DeclRange, "cgroup controllers missing",
				"The root cgroup has no %s controller (/sys/fs/cgroup/cgroup.controllers: %s), which the kubelet needs for pod resources. Enable it on the kernel command line (e.g. cgroup_enable=memory) and reboot.",
				strings.Join(missing, ", "), strings.Join(h.Controllers, " "))
		}
	}
	if h.Exists != nil {
		for _, r := range p.Runtimes {
			// nodeup installs no NVIDIA Container Toolkit: the GPU operator
			// or the site's packages do, and without it every pod of the
			// handler fails to start.
			if r.Type == profile.RuntimeNvidia && !h.Exists(r.Binary) {
				add(hcl.DiagError, r.DeclRange, "nvidia-container-runtime missing",
					"runtime %q runs %s, which this host does not have: its pods cannot start. Install the NVIDIA Container Toolkit (apt-get install nvidia-container-toolkit from NVIDIA's repository, or let the GPU operator install it), or set binary to where it is.", r.Name, r.Binary)
			}
		}
	}
	if h.Module != nil {
		for _, m := range p.Node.KernelModules {
			if h.Module(m) == kernel.ModuleMissing {
				add(hcl.DiagError, p.Node.DeclRange, "Kernel module missing",
					"The running kernel has no %s module (not built in, not in its modules.dep), which node.kernel_modules loads. Install the kernel's extra modules package for this kernel, or remove %s from node.kernel_modules.", m, m)
			}
		}
	}
	return diags
}
