package plan

import (
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/graph"
	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/steps"
	"github.com/nodeup/nodeup/templates"
)

// Build compiles a validated profile into its step graph.
func Build(p *profile.Profile) (*graph.Graph, error) {
	files, _, err := Render(p)
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
		b.g.Add(&steps.File{Path: f.Path, Mode: f.Mode, Content: f.Content}, b.fileRange(f.Path), steps.DirID(path.Dir(f.Path)))
	}
	if p.Node.OS == profile.OSLinux {
		b.kernel()
		b.units()
		b.siteUnits()
		b.images()
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

// dirFor adds the step for a file's directory and returns its ID.
func (b *builder) dirFor(file string, from hcl.Range) string {
	dir := path.Dir(file)
	if !b.dirs[dir] {
		b.dirs[dir] = true
		b.g.Add(&steps.Dir{Path: dir, Mode: 0o755}, from)
	}
	return steps.DirID(dir)
}

// linkDirs orders each directory after its nearest ancestor in the graph.
func (b *builder) linkDirs() {
	for dir := range b.dirs {
		for parent := path.Dir(dir); parent != "/" && parent != "."; parent = path.Dir(parent) {
			if b.dirs[parent] {
				b.g.Step(steps.DirID(dir)).After(steps.DirID(parent))
				break
			}
		}
	}
}

// fileRange is the part of the profile a rendered file comes from.
func (b *builder) fileRange(p string) hcl.Range {
	pr := b.p
	if r, ok := siteFileRange(pr, p); ok {
		return r
	}
	if r, ok := proxyFileRange(pr, p); ok {
		return r
	}
	if r, ok := reservedFileRange(pr, p); ok {
		return r
	}
	layout := pr.Layout()
	switch {
	case strings.HasPrefix(p, layout.ContainerdCertsDir+"/"):
		host := strings.Split(strings.TrimPrefix(p, layout.ContainerdCertsDir+"/"), "/")[0]
		for _, r := range pr.Containerd.Registries {
			if r.Host == host {
				return r.DeclRange
			}
		}
	case p == paths.CredentialProviderConfig && len(pr.Kubelet.CredentialProviders) > 0:
		return pr.Kubelet.CredentialProviders[0].DeclRange
	case p == layout.ContainerdConfig, strings.Contains(p, "containerd.service"):
		return pr.Containerd.DeclRange
	case strings.Contains(p, "kubelet"):
		if pr.Kubelet.Declared {
			return pr.Kubelet.DeclRange
		}
	case pr.CNI != nil && path.Dir(p) == pr.CNI.ConfDir:
		for _, n := range pr.CNI.Networks {
			if p == templates.CNINetworkPath(pr.CNI, n) {
				return n.DeclRange
			}
		}
	case p == paths.CrictlConfig && pr.Crictl != nil:
		return pr.Crictl.DeclRange
	case p == layout.RuntimeClasses && len(pr.Runtimes) > 0:
		return pr.Runtimes[0].DeclRange
	}
	return pr.Node.DeclRange
}

// artifact adds a download step; it returns the step's ID.
func (b *builder) artifact(in install) string {
	c := in.component
	a := &steps.Artifact{
		Name: in.name, Version: c.Version, URL: c.URL, SHA256: c.SHA256,
		Mirrors: b.p.Mirror.URLs, Upstream: b.p.Mirror.Upstream,
		Format: archive.FormatOf(c.URL), Files: in.files, Trees: in.trees,
	}
	var deps []string
	for _, f := range in.files {
		deps = append(deps, b.dirFor(f.To, c.DeclRange))
	}
	for _, t := range in.trees {
		deps = append(deps, b.dirFor(t.To, c.DeclRange))
	}
	return b.g.Add(a, c.DeclRange, deps...).ID
}

func (b *builder) pkg(in install) string {
	return b.g.Add(&steps.Package{Name: in.name, Version: in.component.Version, Binaries: in.binaries}, in.component.DeclRange).ID
}

func bin(from, to string) archive.Placement {
	return archive.Placement{From: from, To: to, Mode: 0o755}
}

// allExecutables installs every executable file at the top of an archive
// into dir: a From of "*" and a To ending in "/" (see archive.Install).
func allExecutables(dir string) archive.Placement {
	return archive.Placement{From: "*", To: strings.TrimSuffix(dir, "/") + "/", Mode: 0o755}
}

// install is what one component puts on the node: from a release artifact
// (files and trees), or from a distribution package (binaries).
type install struct {
	name      string
	component *profile.Component
	files     []archive.Placement
	trees     []archive.Tree
	binaries  []string // from a package
	block     string   // names the block in messages, when it is not "the NAME block"
}

func (in install) fromPackage() bool { return in.component.Source == profile.SourcePackage }

// installs lists what every component of a Linux profile installs, in the
// order the graph adds them. The graph and the overlap check both use it.
func installs(p *profile.Profile) []install {
	var out []install
	c := &p.Containerd
	if c.Source == profile.SourcePackage {
		out = append(out, install{name: "containerd", component: &c.Component, binaries: []string{paths.PackageContainerd}})
	} else {
		out = append(out, install{name: "containerd", component: &c.Component, files: []archive.Placement{
			bin("bin/containerd", paths.Containerd),
			bin("bin/containerd-shim-runc-v2", paths.BinDir+"/containerd-shim-runc-v2"),
			bin("bin/ctr", paths.BinDir+"/ctr"),
		}})
	}
	if p.Runc != nil {
		if p.Runc.Source == profile.SourcePackage {
			out = append(out, install{name: "runc", component: p.Runc, binaries: []string{paths.PackageRunc}})
		} else {
			out = append(out, install{name: "runc", component: p.Runc, files: []archive.Placement{bin("", paths.Runc)}})
		}
	}
	if p.Crun != nil {
		if p.Crun.Source == profile.SourcePackage {
			out = append(out, install{name: "crun", component: p.Crun, binaries: []string{paths.PackageCrun}})
		} else {
			// A static binary, like runc's.
			out = append(out, install{name: "crun", component: p.Crun, files: []archive.Placement{bin("", paths.Crun)}})
		}
	}
	if p.CNI != nil {
		in := install{name: "cni", component: &p.CNI.Component}
		if p.CNI.Plugins == nil {
			// Whatever the release holds: the set changes between releases.
			in.files = []archive.Placement{allExecutables(p.CNI.BinDir)}
		}
		for _, pl := range p.CNI.Plugins {
			in.files = append(in.files, bin(pl, path.Join(p.CNI.BinDir, pl)))
		}
		out = append(out, in)
	}
	if p.Crictl != nil {
		out = append(out, install{name: "crictl", component: p.Crictl, files: []archive.Placement{bin("crictl", paths.BinDir+"/crictl")}})
	}
	if p.Kata != nil {
		out = append(out, install{name: "kata", component: p.Kata, trees: []archive.Tree{{From: strings.TrimPrefix(paths.KataDir, "/"), To: paths.KataDir}}})
	}
	if templates.InstallsKubelet(p) {
		out = append(out, install{name: "kubelet", component: &p.Kubelet.Component, files: []archive.Placement{bin("", paths.Kubelet)}})
	}
	for i := range p.Kubelet.CredentialProviders {
		out = append(out, credentialProviderInstall(&p.Kubelet.CredentialProviders[i]))
	}
	for _, k := range []struct {
		name     string
		c        *profile.Component
		bin, pkg string
	}{{"kubeadm", p.Kubeadm, paths.Kubeadm, paths.PackageKubeadm}, {"kubectl", p.Kubectl, paths.Kubectl, paths.PackageKubectl}} {
		switch {
		case k.c == nil:
		case k.c.Source == profile.SourcePackage:
			out = append(out, install{name: k.name, component: k.c, binaries: []string{k.pkg}})
		default:
			out = append(out, install{name: k.name, component: k.c, files: []archive.Placement{bin("", k.bin)}})
		}
	}
	return out
}

// artifacts adds the download or package step of every component.
func (b *builder) artifacts() {
	for _, in := range installs(b.p) {
		if in.fromPackage() {
			b.pkg(in)
		} else {
			b.artifact(in)
		}
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
	unitFile := paths.ContainerdUnit
	containerd := b.ifHas(steps.ArtifactID("containerd"), steps.PackageID("containerd"))
	restartOn := append(b.ifHas(steps.FileID(unitFile), steps.FileID(paths.ContainerdConfig)), containerd...)
	// What node.proxy and kubelet.reserved give it.
	restartOn = append(restartOn, b.ifHas(steps.FileID(paths.ContainerdProxyDropIn), steps.FileID(paths.ProxyEnv),
		steps.FileID(paths.ContainerdSliceDropIn), steps.FileID(paths.KubeSliceUnit))...)
	restartOn = withSiteRestarts(p, paths.ContainerdService, restartOn)
	u := &steps.Unit{Name: paths.ContainerdService, WantedBy: []string{"multi-user.target"}, Start: true, RestartOn: restartOn}
	if b.g.Has(steps.FileID(unitFile)) {
		u.Path = unitFile
	}
	s := b.g.Add(u, p.Containerd.DeclRange, restartOn...)
	s.After(b.ifHas(steps.ArtifactID("runc"), steps.PackageID("runc"), steps.ArtifactID("crun"), steps.PackageID("crun"))...)
	for _, id := range b.g.IDs() {
		if strings.HasPrefix(id, steps.FileID(paths.ContainerdCerts)) || strings.HasPrefix(id, steps.ModuleID("")) {
			s.After(id)
		}
	}

	if !p.Kubelet.Declared {
		return
	}
	kubeletFile := paths.KubeletUnit
	var kfiles []string
	for _, id := range b.g.IDs() {
		if strings.HasPrefix(id, steps.FileID(kubeletFile)) || id == steps.FileID(p.Layout().KubeletConfig) || id == steps.FileID(paths.KubeletSecretFlags) {
			kfiles = append(kfiles, id)
		}
	}
	krestart := append(kfiles, b.ifHas(steps.ArtifactID("kubelet"))...)
	// The credential providers' configuration and binaries, read when it starts.
	krestart = append(krestart, b.ifHas(steps.FileID(paths.CredentialProviderConfig))...)
	for _, cp := range p.Kubelet.CredentialProviders {
		krestart = append(krestart, b.ifHas(steps.ArtifactID(credentialProviderArtifact(cp.Name)))...)
	}
	// Beside its drop-ins, what node.proxy and kubelet.reserved give it.
	krestart = append(krestart, b.ifHas(steps.FileID(paths.ProxyEnv), steps.FileID(paths.KubeSliceUnit), steps.FileID(paths.SystemSliceDropIn))...)
	krestart = withSiteRestarts(p, paths.KubeletService, krestart)
	k := &steps.Unit{Name: paths.KubeletService, WantedBy: []string{"multi-user.target"}, Start: p.Kubelet.Start, RestartOn: krestart}
	if templates.InstallsKubelet(p) {
		k.Path = kubeletFile
	}
	// Otherwise the kubelet is the packaged one: its own unit is enabled,
	// and the step fails if no package brought it.
	ks := b.g.Add(k, p.Kubelet.DeclRange, krestart...)
	// The kubelet watches its static pod directory; it is there when the
	// kubelet starts.
	if sp, ok := p.Kubelet.Config["staticPodPath"].(string); ok && path.IsAbs(sp) && !b.dirs[path.Clean(sp)] {
		b.dirs[path.Clean(sp)] = true
		ks.After(b.g.Add(&steps.Dir{Path: path.Clean(sp), Mode: 0o755}, p.Kubelet.ConfigRanges["staticPodPath"]).ID)
	}
	ks.After(steps.UnitID(paths.ContainerdService))
	ks.After(b.ifHas(steps.SysctlID("net.ipv4.ip_forward"))...)
}

// images adds a step per image block: imported once containerd runs;
// the kubelet starts and verification runs after them.
func (b *builder) images() {
	p := b.p
	ctr := paths.Ctr
	if p.Containerd.Source == profile.SourcePackage {
		ctr = paths.PackageCtr
	}
	for _, im := range p.Images {
		id := b.g.Add(&steps.Image{
			Ref: im.Ref, URL: im.URL, MirrorPath: im.MirrorPath, SHA256: im.SHA256,
			Mirrors: p.Mirror.URLs, Upstream: p.Mirror.Upstream, Arch: p.Node.Arch,
			Ctr: ctr, Endpoint: p.RuntimeEndpoint(), Timeout: p.Verify.Timeout,
		}, im.DeclRange, steps.UnitID(paths.ContainerdService)).ID
		if b.g.Has(steps.UnitID(paths.KubeletService)) {
			b.g.Step(steps.UnitID(paths.KubeletService)).After(id)
		}
	}
}

func (b *builder) verify() {
	p := b.p
	v := &steps.Verify{
		Endpoint:     p.RuntimeEndpoint(),
		Handlers:     p.Verify.Handlers,
		CgroupDriver: p.Node.CgroupDriver,
		NetworkReady: p.Verify.NetworkReady,
		Timeout:      p.Verify.Timeout,
		// Where the cgroup driver is read when the runtime does not say.
		ContainerdConfig: p.Layout().ContainerdConfig,
		Pod:              p.Verify.Pod,
		PodImage:         p.Verify.PodImage,
		PodAddress:       p.CNI != nil && len(p.CNI.Networks) > 0,
	}
	if p.CNI != nil {
		v.CNIBinDir = p.CNI.BinDir
		v.CNIPlugins = p.CNI.Plugins
		if v.CNIPlugins == nil {
			// Which plugins the release holds is known on the node only;
			// containerd runs loopback in every pod sandbox.
			v.CNIPlugins = []string{"loopback"}
		}
	}
	from := p.Containerd.DeclRange
	// A running kubelet kills pods it did not start: the verification's
	// pods run before the kubelet starts, on a runtime that is proven.
	if p.Verify.Pod && b.g.Has(steps.UnitID(paths.KubeletService)) {
		defer b.g.Step(steps.UnitID(paths.KubeletService)).After(steps.VerifyID)
	}
	s := b.g.Add(v, from, append([]string{steps.UnitID(paths.ContainerdService)}, b.ifHas(steps.ArtifactID("runc"), steps.PackageID("runc"), steps.ArtifactID("crun"), steps.PackageID("crun"), steps.ArtifactID("cni"), steps.ArtifactID("kata"))...)...)
	for _, im := range p.Images {
		s.After(steps.ImageID(im.Ref))
	}
	if p.CNI != nil {
		// containerd picks up network lists as they appear; verification
		// waits for them.
		for _, n := range p.CNI.Networks {
			s.After(steps.FileID(templates.CNINetworkPath(p.CNI, n)))
		}
	}
}
