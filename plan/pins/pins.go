// Package pins is nodeup's built-in table of upstream release artifacts:
// for each component, version and architecture, the upstream URL and its
// sha256. A profile that names a pinned version needs no sha256.
package pins

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/nodeup/nodeup/profile"
)

//go:embed upstream-checksums.tsv
var table string

// Component names as used by the profile language.
const (
	Containerd = "containerd"
	Runc       = "runc"
	Crun       = "crun"
	CNI        = "cni"
	Crictl     = "crictl"
	Kata       = "kata"
	Kubelet    = "kubelet"
	Kubeadm    = "kubeadm"
	Kubectl    = "kubectl"
)

// tableNames maps the table's component column to profile names.
var tableNames = map[string]string{
	"containerd":      Containerd,
	"runc":            Runc,
	"cni-plugins":     CNI,
	"crictl":          Crictl,
	"kata-containers": Kata,
	"kubelet":         Kubelet,
	"kubeadm":         Kubeadm,
	"kubectl":         Kubectl,
}

// Pin is one row of the table.
type Pin struct {
	Component string
	Version   string
	Arch      string
	Filename  string
	URL       string
	SHA256    string
}

// Table is the parsed pin table.
type Table struct {
	pins map[string]Pin // key: component/version/arch
}

func key(component, version, arch string) string {
	return component + "/" + version + "/" + arch
}

// Builtin parses the table embedded in the binary.
func Builtin() *Table {
	t, err := Parse(table)
	if err != nil {
		// The embedded table is part of the build; a bad one is a bug.
		panic(err)
	}
	return t
}

// Parse reads a table in the TSV layout of upstream-checksums.tsv.
func Parse(text string) (*Table, error) {
	t := &Table{pins: map[string]Pin{}}
	for n, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "component\t") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("pin table line %d: want 6 tab-separated fields, got %d", n+1, len(f))
		}
		name, ok := tableNames[f[0]]
		if !ok {
			return nil, fmt.Errorf("pin table line %d: unknown component %q", n+1, f[0])
		}
		if len(f[5]) != 64 {
			return nil, fmt.Errorf("pin table line %d: sha256 %q is not 64 hex digits", n+1, f[5])
		}
		p := Pin{Component: name, Version: f[1], Arch: f[2], Filename: f[3], URL: f[4], SHA256: f[5]}
		t.pins[key(name, p.Version, p.Arch)] = p
	}
	return t, nil
}

// Lookup finds the pin for a component version on an architecture.
func (t *Table) Lookup(component, version, arch string) (Pin, bool) {
	p, ok := t.pins[key(component, version, arch)]
	return p, ok
}

// Versions lists the pinned versions of a component for an architecture,
// newest first, for error messages.
func (t *Table) Versions(component, arch string) []string {
	var out []string
	for _, p := range t.pins {
		if p.Component == component && p.Arch == arch {
			out = append(out, p.Version)
		}
	}
	sort.Slice(out, func(i, j int) bool { return profile.CompareVersions(out[i], out[j]) > 0 })
	return out
}

// UpstreamURL is the upstream release URL of a component version, whether
// or not it is pinned: the pin's URL when there is one, else the release
// layout each project uses.
func (t *Table) UpstreamURL(component, version, arch string) string {
	if p, ok := t.Lookup(component, version, arch); ok {
		return p.URL
	}
	v := version
	switch component {
	case Containerd:
		return fmt.Sprintf("https://github.com/containerd/containerd/releases/download/v%s/containerd-%s-linux-%s.tar.gz", v, v, arch)
	case Runc:
		return fmt.Sprintf("https://github.com/opencontainers/runc/releases/download/v%s/runc.%s", v, arch)
	case Crun:
		// A static binary; crun's tags have no leading v.
		return fmt.Sprintf("https://github.com/containers/crun/releases/download/%s/crun-%s-linux-%s", v, v, arch)
	case CNI:
		return fmt.Sprintf("https://github.com/containernetworking/plugins/releases/download/v%s/cni-plugins-linux-%s-v%s.tgz", v, arch, v)
	case Crictl:
		return fmt.Sprintf("https://github.com/kubernetes-sigs/cri-tools/releases/download/v%s/crictl-v%s-linux-%s.tar.gz", v, v, arch)
	case Kata:
		return fmt.Sprintf("https://github.com/kata-containers/kata-containers/releases/download/%s/kata-static-%s-%s.tar.zst", v, v, arch)
	case Kubelet, Kubeadm, Kubectl:
		return fmt.Sprintf("https://dl.k8s.io/release/v%s/bin/linux/%s/%s", v, arch, component)
	}
	return ""
}
