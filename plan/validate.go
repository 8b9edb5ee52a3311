package plan

import (
	"errors"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
)

var (
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// A RuntimeClass handler must be a DNS label (node.k8s.io/v1).
	handlerPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	modulePattern  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// A registry host names a directory under certs.d: a host name or
	// [IPv6] with an optional port, or containerd's "_default"; never "..".
	registryHostPattern = regexp.MustCompile(`^(_default|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?)$`)
	sysctlPattern       = regexp.MustCompile(`^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$`)
	versionPattern      = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?([-+][0-9A-Za-z.-]+)?$`)
	// A Windows absolute path: a drive letter and a backslash or slash.
	windowsAbsPattern = regexp.MustCompile(`^[A-Za-z]:[\\/]`)
)

// validate applies the semantic rules of the profile language: everything
// that parses but would build a broken node.
func (l *loader) validate(p *profile.Profile) {
	l.validateNode(p)
	l.validateProxy(p)
	l.validateMirror(p)
	l.validateComponents(p)
	l.validateRuntimes(p)
	l.validateContainerd(p)
	if p.CNI != nil {
		l.validateCNI(p)
	}
	l.validateKubelet(p)
	l.validateReserved(p)
	l.validateCredentialProviders(p)
	l.validateImages(p)
	l.validateVerify(p)
	l.validateDestinations(p)
	l.validateSiteFiles(p)
	l.validateText(p)
	l.validateUpstream(p)
	// Anything else the renderers refuse, once the rules found nothing.
	if !l.diags.HasErrors() {
		files, err := templates.Render(p)
		if err != nil {
			l.errorf(l.at("containerd", p.Containerd.DeclRange), "Cannot render the node's files", "%s.", err)
		}
		l.validatePathLengths(p, files)
	}
}

// validatePathLengths refuses, before anything changes, a node path that
// an apply would fail to create half way: a rendered file's, a component's
// destination, or a directory the kubelet config names (paths.CheckLength).
func (l *loader) validatePathLengths(p *profile.Profile, files []templates.File) {
	seen := map[string]bool{}
	check := func(nodePath string, at *hcl.Range) {
		if seen[nodePath] {
			return
		}
		seen[nodePath] = true
		if err := paths.CheckLength(nodePath); err != nil {
			l.errorf(at, "Node path too long", "%s.", upperFirst(err.Error()))
		}
	}
	b := &builder{p: p}
	for _, f := range files {
		r := b.fileRange(f.Path)
		check(f.Path, &r)
	}
	for _, d := range l.destinations(p) {
		check(d.path, d.at)
	}
	if sp, ok := p.Kubelet.Config["staticPodPath"].(string); ok {
		check(sp, l.configKeyAt(p, "staticPodPath"))
	}
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (l *loader) validateNode(p *profile.Profile) {
	n := p.Node
	if !oneOf(n.CgroupDriver, profile.CgroupSystemd, profile.CgroupCgroupfs) {
		l.errorf(l.at("node.cgroup_driver", n.DeclRange), "Invalid cgroup driver",
			"node.cgroup_driver is %q; use \"systemd\" (the default, for systemd hosts) or \"cgroupfs\".", n.CgroupDriver)
	}
	if !oneOf(n.Arch, profile.Arches()...) {
		l.errorf(l.at("node.arch", n.DeclRange), "Unsupported architecture", "node.arch is %q; nodeup installs \"amd64\" and \"arm64\" nodes.", n.Arch)
	}
	if !oneOf(n.OS, profile.OSLinux, profile.OSWindows) {
		l.errorf(l.at("node.os", n.DeclRange), "Unsupported OS", "node.os is %q; use \"linux\", or \"windows\" to render files only.", n.OS)
	}
	if n.OS == profile.OSWindows && l.written("node.cgroup_driver") {
		l.errorf(l.at("node.cgroup_driver", n.DeclRange), "cgroup driver on Windows",
			"A Windows node has no cgroups, so neither containerd nor the kubelet takes a cgroup driver; remove node.cgroup_driver.")
	}
	for _, m := range n.KernelModules {
		if !modulePattern.MatchString(m) {
			l.errorf(l.at("node.kernel_modules", n.DeclRange), "Invalid kernel module name", "%q is not a kernel module name.", m)
		}
	}
	for _, k := range sortedKeys(n.Sysctl) {
		if !sysctlPattern.MatchString(k) {
			l.errorf(l.at("node.sysctl", n.DeclRange), "Invalid sysctl key", "%q is not a sysctl key such as \"net.ipv4.ip_forward\".", k)
		}
		if strings.ContainsAny(n.Sysctl[k], "\n\r") {
			l.errorf(l.at("node.sysctl", n.DeclRange), "Invalid sysctl value", "The value of %s must be one line.", k)
		}
	}
}

func (l *loader) validateMirror(p *profile.Profile) {
	m := p.Mirror
	for _, u := range m.URLs {
		l.checkURL(u, l.at("mirror.urls", m.DeclRange), "mirror.urls")
		if pu, err := url.Parse(u); err == nil && pu.Scheme != "file" && strings.HasSuffix(pu.Path, ".tar") {
			l.errorf(l.at("mirror.urls", m.DeclRange), "Invalid mirror",
				"mirror.urls: %q: nodeup reads a bundle tar from a file only (file:///path/bundle.tar); over %s, serve the unpacked bundle (tar -xf) and give the URL of its directory.", u, pu.Scheme)
		}
	}
	if !m.Upstream && len(m.URLs) == 0 {
		l.errorf(l.at("mirror.upstream", m.DeclRange), "No artifact source",
			"mirror.upstream = false with no mirror.urls leaves nowhere to download from; add a mirror URL.")
	}
}

// checkURL accepts http, https and file URLs that name a file: nodeup lays
// them out as files (mirrors, bundles, the cache), so their paths hold no
// "." or ".." segment, plain or percent-encoded, and their hosts are hosts.
func (l *loader) checkURL(raw string, subject *hcl.Range, what string) {
	err := fetch.CheckSource(raw)
	if errors.Is(err, fetch.ErrNotSourceURL) {
		l.errorf(subject, "Invalid URL", "%s: %q is not an http://, https:// or file:///absolute/path URL.", what, raw)
		return
	}
	if err != nil {
		l.errorf(subject, "Invalid URL", "%s: %q: %v. Write the URL of the file itself: the path it resolves to, without \".\" or \"..\" segments (nor %%2e or %%2f spellings of them), on a host name or IP address.", what, raw, err)
	}
}

type namedComponent struct {
	name string
	key  string // pin table component
	c    *profile.Component
}

func (p *profileComponents) list() []namedComponent { return p.all }

type profileComponents struct{ all []namedComponent }

func components(p *profile.Profile) *profileComponents {
	pc := &profileComponents{}
	add := func(name, key string, c *profile.Component) {
		if c != nil {
			pc.all = append(pc.all, namedComponent{name, key, c})
		}
	}
	if p.Containerd.DeclRange.Filename != "" {
		add("containerd", pins.Containerd, &p.Containerd.Component)
	}
	add("runc", pins.Runc, p.Runc)
	add("crun", pins.Crun, p.Crun)
	add("crictl", pins.Crictl, p.Crictl)
	add("kata", pins.Kata, p.Kata)
	if p.CNI != nil {
		add("cni", pins.CNI, &p.CNI.Component)
	}
	if p.Kubelet.Declared {
		add("kubelet", pins.Kubelet, &p.Kubelet.Component)
	}
	add("kubeadm", pins.Kubeadm, p.Kubeadm)
	add("kubectl", pins.Kubectl, p.Kubectl)
	return pc
}

func (l *loader) validateComponents(p *profile.Profile) {
	for _, nc := range components(p).list() {
		c, name := nc.c, nc.name
		if !oneOf(c.Source, profile.SourceRelease, profile.SourcePackage) {
			l.errorf(l.at(name+".source", c.DeclRange), "Invalid source", "%s.source is %q; use \"release\" or \"package\".", name, c.Source)
			continue
		}
		if c.Version == "" {
			if l.failed[name+".version"] {
				continue // reported where it failed
			}
			if name == "kubelet" {
				continue // config only, no binary
			}
			if c.Source == profile.SourcePackage {
				continue // whatever the distribution ships
			}
			l.errorf(c.DeclRange.Ptr(), "Missing version", "The %s block needs a version, e.g. version = %q.", name, newest(l.opts.Pins, nc.key, p.Node.Arch))
			continue
		}
		if c.Source == profile.SourcePackage {
			// Distribution versions ("1.6.20~ds1-1") have their own syntax.
			if _, set := l.ranges[name+".sha256"]; set {
				l.errorf(l.at(name+".sha256", c.DeclRange), "sha256 with source = \"package\"", "%s comes from the distribution's packages, which apt or dnf verify; remove sha256.", name)
			}
			continue
		}
		if !versionPattern.MatchString(c.Version) {
			l.errorf(l.at(name+".version", c.DeclRange), "Invalid version", "%s.version %q is not a release version such as %q (no leading v).", name, c.Version, newest(l.opts.Pins, nc.key, p.Node.Arch))
			continue
		}
		if c.URL != "" {
			l.checkURL(c.URL, l.at(name+".url", c.DeclRange), name+".url")
		}
		if l.validateSums(p, name, nc.key, c) {
			continue
		}
		loaded := l.loadedArches(p.Node.Arch)
		switch {
		case c.SHA256 == "" && (l.failed[name+".sha256"] || l.failed[name+".url"]):
			// reported where it failed
		case c.SHA256 == "":
			versions := l.opts.Pins.Versions(nc.key, p.Node.Arch)
			if _, custom := l.ranges[name+".url"]; custom {
				l.errorf(l.at(name+".url", c.DeclRange), "Missing sha256",
					"%s.url is not the upstream release, so nodeup cannot know its sha256; set sha256 = %s.", name, sumHint(loaded))
			} else {
				pinned := "Pinned versions: " + strings.Join(versions, ", ") + "."
				if len(versions) == 0 {
					pinned = "nodeup pins no " + name + " release."
				}
				l.errorf(l.at(name+".version", c.DeclRange), "Version not pinned",
					"%s %s (%s) is not in nodeup's pin table, so its sha256 must be given: set sha256 = %s. %s",
					name, c.Version, p.Node.Arch, sumHint(loaded), pinned)
			}
		case !sha256Pattern.MatchString(c.SHA256):
			l.errorf(l.at(name+".sha256", c.DeclRange), "Malformed sha256",
				"%s.sha256 must be 64 lowercase hex digits; got %q (%d characters).", name, c.SHA256, len(c.SHA256))
		}
	}
	if p.Runc != nil && p.Runc.Source == profile.SourcePackage && p.Containerd.Source != profile.SourcePackage {
		l.warnf(l.at("runc.source", p.Runc.DeclRange), "runc from packages, containerd from release",
			"The distribution's runc lands in "+paths.PackageRunc+"; containerd is pointed at it.")
	}
	for _, nc := range components(p).list() {
		if nc.c.Source == profile.SourcePackage && !oneOf(nc.name, "containerd", "runc", "crun", "kubeadm", "kubectl") {
			l.errorf(l.at(nc.name+".source", nc.c.DeclRange), "Invalid source", "source = \"package\" is for containerd, runc, crun, kubeadm and kubectl only.")
		}
	}
}

func newest(t *pins.Table, component, arch string) string {
	if v := t.Versions(component, arch); len(v) > 0 {
		return v[0]
	}
	return "1.0.0"
}

func (l *loader) absPath(p, what string, decl hcl.Range) {
	if !path.IsAbs(p) {
		l.errorf(l.at(what, decl), "Relative path", "%s %q must be an absolute path.", what, p)
	}
}
