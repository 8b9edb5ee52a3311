package plan

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/profile"
)

// validateText refuses control characters where they make no sense: in
// paths, the socket, the sandbox image, sysctl values, kubelet flags and
// the kubelet's kubeconfig (URLs, versions, image names, module names and
// sysctl keys have stricter checks of their own). An escape sequence there
// would reach a unit file or a config as it is, and could make a plan
// printed on a terminal look harmless. The value is not repeated in the message: it may be secret,
// and it does not print.
func (l *loader) validateText(p *profile.Profile) {
	check := func(what, path, s string, decl hcl.Range) {
		if i, r, ok := controlChar(s); ok {
			l.errorf(l.at(path, decl), "Control character",
				"%s holds the control character %U at byte %d; remove it: nodeup writes this value into files and prints it.", what, r, i)
		}
	}
	// Kernel module names and sysctl keys have patterns of their own.
	n := p.Node
	for _, k := range sortedKeys(n.Sysctl) {
		if !strings.ContainsAny(n.Sysctl[k], "\n\r") { // reported as a value of several lines
			check("the node.sysctl value of "+strconv.Quote(k), "node.sysctl", n.Sysctl[k], n.DeclRange)
		}
	}
	c := p.Containerd
	check("containerd.socket", "containerd.socket", c.Socket, c.DeclRange)
	check("containerd.sandbox_image", "containerd.sandbox_image", c.SandboxImage, c.DeclRange)
	if p.CNI != nil {
		check("cni.bin_dir", "cni.bin_dir", p.CNI.BinDir, p.CNI.DeclRange)
		check("cni.conf_dir", "cni.conf_dir", p.CNI.ConfDir, p.CNI.DeclRange)
	}
	for _, f := range p.Kubelet.Flags {
		check("kubelet.flags", "kubelet.flags", f, p.Kubelet.DeclRange)
	}
	if p.Kubelet.Mode == profile.KubeletKubeconfig {
		check("kubelet.kubeconfig", "kubelet.kubeconfig", p.Kubelet.Kubeconfig, p.Kubelet.DeclRange)
	}
}

// controlChar finds the first control character of s (C0, DEL, C1, and
// the Unicode line and paragraph separators).
func controlChar(s string) (int, rune, bool) {
	for i, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			return i, r, true
		}
	}
	return 0, 0, false
}
