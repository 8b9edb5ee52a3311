package plan

import (
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/templates"
)

// Install locations of release binaries (SPEC section 4).
const (
	BinDir  = "/usr/local/bin"
	SbinDir = "/usr/local/sbin"
)

// IDs of the steps other steps refer to.
const (
	ContainerdUnitID = "unit:containerd.service"
	KubeletUnitID    = "unit:kubelet.service"
	VerifyID         = "verify:cri"
)

// Build compiles a validated profile into its step graph.
func Build(p *profile.Profile) (*graph.Graph, error) {
	files, err := templates.Render(p)
	if err != nil {
		return nil, err
	}
	b := &builder{p: p, g: graph.NewGraph(), dirs: map[string]bool{}}
	for _, f := range files {
		b.dirFor(f.Path, b.fileRange(f.Path))
	}
	if p.Node.OS == profile.OSLinux {
		b.artifacts()
	}
	for _, f := range files {
		b.g.Add(&steps.File{Path: f.Path, Mode: f.Mode, Content: f.Content}, b.fileRange(f.Path), dirID(path.Dir(f.Path)))
	}
	if p.Node.OS == profile.OSLinux {
		b.kernel()
		b.units()
		b.verify()
	}
	b.linkDirs()
	if err := b.g.Validate(); err != nil {
		return nil, err
	}
	return b.g, nil
}

type builder struct {
	p    *profile.Profile
	g    *graph.Graph
	dirs map[string]bool
}

func dirID(dir string) string { return "dir:" + dir }

// dirFor adds the step for a file's directory and returns its ID.
func (b *builder) dirFor(file string, from hcl.Range) string {
	dir := path.Dir(file)
	if !b.dirs[dir] {
		b.dirs[dir] = true
		b.g.Add(&steps.Dir{Path: dir, Mode: 0o755}, from)
	}
	return dirID(dir)
}

// linkDirs orders each directory after its nearest ancestor in the graph.
func (b *builder) linkDirs() {
	for dir := range b.dirs {
		for parent := path.Dir(dir); parent != "/" && parent != "."; parent = path.Dir(parent) {
			if b.dirs[parent] {
				b.g.Step(dirID(dir)).After(dirID(parent))
				break
			}
		}
	}
}

// fileRange is the part of the profile a rendered file comes from.
func (b *builder) fileRange(p string) hcl.Range {
	pr := b.p
	switch {
	case strings.HasPrefix(p, profile.ContainerdCertsDir+"/"):
		host := strings.Split(strings.TrimPrefix(p, profile.ContainerdCertsDir+"/"), "/")[0]
		for _, r := range pr.Containerd.Registries {
			if r.Host == host {
				return r.DeclRange
			}
		}
	case strings.HasPrefix(p, "/etc/containerd/"), strings.Contains(p, "containerd.service"):
		return pr.Containerd.DeclRange
	case strings.Contains(p, "kubelet"):
		if pr.Kubelet.Declared {
			return pr.Kubelet.DeclRange
		}
	case p == profile.CrictlConfigPath && pr.Crictl != nil:
		return pr.Crictl.DeclRange
	case p == profile.RuntimeClassesPath && len(pr.Runtimes) > 0:
		return pr.Runtimes[0].DeclRange
	}
	return pr.Node.DeclRange
}

// artifact adds a download step; it returns the step's ID.
func (b *builder) artifact(name string, c *profile.Component, files []steps.Install, trees []steps.Tree) string {
	a := &steps.Artifact{
		Name: name, Version: c.Version, URL: c.URL, SHA256: c.SHA256,
		Mirrors: b.p.Mirror.URLs, Upstream: b.p.Mirror.Upstream,
		Format: steps.FormatOf(c.URL), Files: files, Trees: trees,
	}
	var deps []string
	for _, f := range files {
		deps = append(deps, b.dirFor(f.To, c.DeclRange))
	}
	for _, t := range trees {
		deps = append(deps, b.dirFor(t.To, c.DeclRange))
	}
	return b.g.Add(a, c.DeclRange, deps...).ID
}

func (b *builder) pkg(name string, c *profile.Component, binaries ...string) string {
	return b.g.Add(&steps.Package{Name: name, Version: c.Version, Binaries: binaries}, c.DeclRange).ID
}

func bin(from, to string) steps.Install { return steps.Install{From: from, To: to, Mode: 0o755} }

// artifacts adds the download or package step of every component.
func (b *builder) artifacts() {
	p := b.p
	c := &p.Containerd
	if c.Source == profile.SourcePackage {
		b.pkg("containerd", &c.Component, "/usr/bin/containerd")
	} else {
		b.artifact("containerd", &c.Component, []steps.Install{
			bin("bin/containerd", BinDir+"/containerd"),
			bin("bin/containerd-shim-runc-v2", BinDir+"/containerd-shim-runc-v2"),
			bin("bin/ctr", BinDir+"/ctr"),
		}, nil)
	}
	if p.Runc != nil {
		if p.Runc.Source == profile.SourcePackage {
			b.pkg("runc", p.Runc, "/usr/sbin/runc")
		} else {
			b.artifact("runc", p.Runc, []steps.Install{bin("", SbinDir+"/runc")}, nil)
		}
	}
	if p.CNI != nil {
		var files []steps.Install
		for _, pl := range p.CNI.Plugins {
			files = append(files, bin(pl, path.Join(p.CNI.BinDir, pl)))
		}
		b.artifact("cni", &p.CNI.Component, files, nil)
	}
	if p.Crictl != nil {
		b.artifact("crictl", p.Crictl, []steps.Install{bin("crictl", BinDir+"/crictl")}, nil)
	}
	if p.Kata != nil {
		b.artifact("kata", p.Kata, nil, []steps.Tree{{From: strings.TrimPrefix(profile.KataDir, "/"), To: profile.KataDir}})
	}
	if p.Kubelet.Declared && p.Kubelet.Version != "" {
		b.artifact("kubelet", &p.Kubelet.Component, []steps.Install{bin("", BinDir+"/kubelet")}, nil)
	}
}

// kernel adds module and sysctl steps; sysctls wait for the modules
// (bridge-nf-call-* exist only once br_netfilter is loaded).
func (b *builder) kernel() {
	n := b.p.Node
	var modules []string
	for _, m := range n.KernelModules {
		modules = append(modules, b.g.Add(&steps.Module{Name: m}, n.DeclRange).ID)
	}
	for _, k := range sortedKeys(n.Sysctl) {
		b.g.Add(&steps.Sysctl{Name: k, Value: n.Sysctl[k]}, n.DeclRange, modules...)
	}
}

// ifHas returns the IDs that are in the graph.
func (b *builder) ifHas(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if b.g.Has(id) {
			out = append(out, id)
		}
	}
	return out
}

func (b *builder) units() {
	p := b.p
	unitFile := path.Join(profile.UnitDir, "containerd.service")
	containerd := b.ifHas("artifact:containerd", "package:containerd")
	restartOn := append(b.ifHas("file:"+unitFile, "file:"+profile.ContainerdConfigPath), containerd...)
	u := &steps.Unit{Name: "containerd.service", WantedBy: []string{"multi-user.target"}, Start: true, RestartOn: restartOn}
	if b.g.Has("file:" + unitFile) {
		u.Path = unitFile
	}
	s := b.g.Add(u, p.Containerd.DeclRange, restartOn...)
	s.After(b.ifHas("artifact:runc", "package:runc")...)
	for _, id := range b.g.IDs() {
		if strings.HasPrefix(id, "file:"+profile.ContainerdCertsDir) || strings.HasPrefix(id, "module:") {
			s.After(id)
		}
	}

	if !p.Kubelet.Declared {
		return
	}
	kubeletFile := path.Join(profile.UnitDir, "kubelet.service")
	var kfiles []string
	for _, id := range b.g.IDs() {
		if strings.HasPrefix(id, "file:"+kubeletFile) || id == "file:"+profile.KubeletConfigPath {
			kfiles = append(kfiles, id)
		}
	}
	krestart := append(kfiles, b.ifHas("artifact:kubelet")...)
	k := &steps.Unit{Name: "kubelet.service", Path: kubeletFile, WantedBy: []string{"multi-user.target"}, Start: p.Kubelet.Start, RestartOn: krestart}
	ks := b.g.Add(k, p.Kubelet.DeclRange, krestart...)
	ks.After(ContainerdUnitID)
	ks.After(b.ifHas("sysctl:net.ipv4.ip_forward")...)
}

func (b *builder) verify() {
	p := b.p
	v := &steps.Verify{
		Endpoint:     p.RuntimeEndpoint(),
		Handlers:     p.Verify.Handlers,
		CgroupDriver: p.Node.CgroupDriver,
		NetworkReady: p.Verify.NetworkReady,
		Timeout:      p.Verify.Timeout,
	}
	if p.CNI != nil {
		v.CNIBinDir = p.CNI.BinDir
		v.CNIPlugins = p.CNI.Plugins
	}
	from := p.Containerd.DeclRange
	b.g.Add(v, from, append([]string{ContainerdUnitID}, b.ifHas("artifact:runc", "package:runc", "artifact:cni", "artifact:kata")...)...)
}
