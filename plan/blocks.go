package plan

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/nodeup/nodeup/node/images"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
)

// Defaults of the profile language (docs/profile.md).
const (
	DefaultSandboxImage = "registry.k8s.io/pause:3.10"
	DefaultHypervisor   = "qemu"
	DefaultVerifyWait   = 60 * time.Second
)

// DefaultKernelModules and DefaultSysctl are the kubeadm prerequisites: a
// profile's node.kernel_modules and node.sysctl add to them (mergeNode).
func DefaultKernelModules() []string { return []string{"overlay", "br_netfilter"} }

func DefaultSysctl() map[string]string {
	return map[string]string{
		"net.ipv4.ip_forward":                 "1",
		"net.bridge.bridge-nf-call-iptables":  "1",
		"net.bridge.bridge-nf-call-ip6tables": "1",
	}
}

// Default CNI directories of a Windows node, as containerd's Windows build has them.
const (
	DefaultWindowsCNIBinDir  = `C:\Program Files\containerd\cni\bin`
	DefaultWindowsCNIConfDir = `C:\Program Files\containerd\cni\conf`
)

var nodeSchema = &hcl.BodySchema{Attributes: attrSchema("cgroup_driver", "arch", "os", "kernel_modules", "sysctl", "proxy")}

func (l *loader) decodeNode(blk *hcl.Block, p *profile.Profile) {
	n := profile.Node{
		CgroupDriver:  profile.CgroupSystemd,
		Arch:          l.opts.HostArch,
		OS:            profile.OSLinux,
		KernelModules: DefaultKernelModules(),
		Sysctl:        DefaultSysctl(),
	}
	if n.Arch == "" {
		n.Arch = "amd64"
	}
	if blk != nil {
		n.DeclRange = blk.DefRange
		a := l.attrs("node", l.blockAttrs(blk, nodeSchema))
		a.str("cgroup_driver", &n.CgroupDriver)
		a.str("arch", &n.Arch)
		if a.str("os", &n.OS) {
			n.OSRange = *a.rangeOf("os")
		}
		var modules []string
		if a.strList("kernel_modules", &modules) {
			n.KernelModules = addModules(n.KernelModules, modules)
		}
		var sysctl map[string]string
		if a.strMap("sysctl", &sysctl) {
			n.Sysctl = addSysctls(n.Sysctl, sysctl)
		}
		l.decodeProxy(a, &n)
	}
	p.Node = n
}

// addModules is the default modules, then the profile's others in order.
// An empty list is the profile's way to load none: a node that must leave
// the host's kernel alone.
func addModules(defaults, given []string) []string {
	if len(given) == 0 {
		return []string{}
	}
	out := slices.Clone(defaults)
	for _, m := range given {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// addSysctls is the defaults with the profile's keys added; a default key
// the profile sets takes the profile's value. An empty map sets none.
func addSysctls(defaults, given map[string]string) map[string]string {
	if len(given) == 0 {
		return map[string]string{}
	}
	out := maps.Clone(defaults)
	maps.Copy(out, given)
	return out
}

var mirrorSchema = &hcl.BodySchema{Attributes: attrSchema("urls", "upstream")}

func (l *loader) decodeMirror(blk *hcl.Block, p *profile.Profile) {
	p.Mirror = profile.Mirror{Upstream: true}
	if blk == nil {
		return
	}
	p.Mirror.DeclRange = blk.DefRange
	a := l.attrs("mirror", l.blockAttrs(blk, mirrorSchema))
	a.strList("urls", &p.Mirror.URLs)
	for i, u := range p.Mirror.URLs {
		// A path is a file mirror: a directory, or a bundle tar.
		if strings.HasPrefix(u, "/") {
			p.Mirror.URLs[i] = "file://" + u
		}
	}
	a.boolean("upstream", &p.Mirror.Upstream)
}

var componentAttrs = []string{"version", "sha256", "url"}

// componentSchema is the schema of runc, crun, crictl and kata blocks;
// runc and crun may also come from the distribution's packages.
func componentSchema(withSource bool) *hcl.BodySchema {
	names := append([]string{}, componentAttrs...)
	if withSource {
		names = append(names, "source")
	}
	return &hcl.BodySchema{Attributes: attrSchema(names...)}
}

func (l *loader) decodeComponent(blk *hcl.Block, name, arch string, withSource bool) *profile.Component {
	if blk == nil {
		return nil
	}
	c := &profile.Component{}
	l.componentFields(l.attrs(name, l.blockAttrs(blk, componentSchema(withSource))), blk, name, arch, c)
	return c
}

// componentFields decodes version, sha256, url and source, and fills the
// upstream URL and the pinned sha256 when the profile left them out. The
// sha256 and url are arch's: its own sum, {arch} in the url replaced.
func (l *loader) componentFields(a attrs, blk *hcl.Block, name, arch string, c *profile.Component) {
	c.DeclRange = blk.DefRange
	c.Source = profile.SourceRelease
	a.str("version", &c.Version)
	sums := l.decodeSHA256(a, name)
	a.str("url", &c.URL)
	a.str("source", &c.Source)
	sums.url = c.URL
	l.sums[name] = sums
	c.SHA256 = sums.forArch(arch)
	if c.Version == "" || c.Source == profile.SourcePackage {
		return
	}
	c.URL = strings.ReplaceAll(c.URL, profile.ArchPlaceholder, arch)
	pin, pinned := l.opts.Pins.Lookup(name, c.Version, arch)
	if c.URL == "" {
		c.URL = l.opts.Pins.UpstreamURL(name, c.Version, arch)
	}
	if c.SHA256 == "" && pinned && c.URL == pin.URL {
		c.SHA256 = pin.SHA256
	}
}

var containerdSchema = &hcl.BodySchema{
	Attributes: attrSchema(append(append([]string{}, componentAttrs...),
		"source", "socket", "sandbox_image", "config_version", "config", "cdi", "cdi_spec_dirs")...),
	Blocks: []hcl.BlockHeaderSchema{{Type: "registry", LabelNames: []string{"host"}}},
}

func (l *loader) decodeContainerd(blk *hcl.Block, p *profile.Profile) {
	c := &p.Containerd
	c.Socket = paths.ContainerdSocket
	content := l.blockAttrs(blk, containerdSchema)
	a := l.attrs("containerd", content)
	l.componentFields(a, blk, pins.Containerd, p.Node.Arch, &c.Component)
	a.str("socket", &c.Socket)
	a.boolean("cdi", &c.CDI)
	a.strList("cdi_spec_dirs", &c.CDISpecDirs)
	l.sandboxImageSet = a.str("sandbox_image", &c.SandboxImage)
	if a.str("config", &c.RawConfig) {
		c.RawConfigRange = a.m["config"].Expr.Range()
	}
	if !a.integer("config_version", &c.ConfigVersion) {
		c.ConfigVersion = nativeConfigVersion(c.Version)
		if c.Source == profile.SourcePackage && c.Version == "" {
			// The distribution's version is unknown until install; every
			// containerd from 1.3 on reads schema 2 (2.x migrates it).
			c.ConfigVersion = 2
		}
	}
	for _, rb := range content.Blocks {
		c.Registries = append(c.Registries, l.decodeRegistry(rb))
	}
}

// releasePrefix is the upstream release inside a version string, also
// inside a distribution's ("1.6.20~ds1-1+b1").
var releasePrefix = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?`)

// nativeConfigVersion is the config.toml schema a containerd version reads
// natively, and so a containerd block's default config_version and the
// highest it may set. Unlike templates.ConfigVersionFor (which holds the
// rule) it takes a distribution's version too ("1.6.20~ds1-1"), and gives a
// version it cannot read the newest schema: validation reports the version
// itself.
func nativeConfigVersion(version string) int {
	v, err := templates.ConfigVersionFor(releasePrefix.FindString(version))
	if err != nil {
		return 4
	}
	return v
}

var cniSchema = &hcl.BodySchema{
	Attributes: attrSchema(append(append([]string{}, componentAttrs...), "bin_dir", "conf_dir", "plugins", "networks")...),
}

func (l *loader) decodeCNI(blk *hcl.Block, p *profile.Profile) {
	if blk == nil {
		return
	}
	// Without a plugins list, every plugin of the release is installed.
	c := &profile.CNI{BinDir: paths.CNIBinDir, ConfDir: paths.CNIConfDir}
	if p.Node.OS == profile.OSWindows {
		c.BinDir, c.ConfDir = DefaultWindowsCNIBinDir, DefaultWindowsCNIConfDir
	}
	a := l.attrs("cni", l.blockAttrs(blk, cniSchema))
	l.componentFields(a, blk, pins.CNI, p.Node.Arch, &c.Component)
	a.str("bin_dir", &c.BinDir)
	a.str("conf_dir", &c.ConfDir)
	a.strList("plugins", &c.Plugins)
	if len(c.Plugins) > 0 && p.Node.OS == profile.OSLinux && !slices.Contains(c.Plugins, "loopback") {
		// containerd runs loopback in every pod sandbox: a list without
		// it would fail every pod, so it is always installed.
		c.Plugins = append(c.Plugins, "loopback")
	}
	l.decodeCNINetworks(a, c)
	p.CNI = c
}

// decodeCNINetworks decodes cni.networks, file name to network list, in
// name order; each entry keeps where it was written.
func (l *loader) decodeCNINetworks(a attrs, c *profile.CNI) {
	var nets map[string]string
	if !a.strMap("networks", &nets) {
		return
	}
	ranges := a.keyRanges("networks")
	for _, name := range sortedKeys(nets) {
		r, ok := ranges[name]
		if !ok {
			r = *a.rangeOf("networks")
		}
		c.Networks = append(c.Networks, profile.CNINetwork{Name: name, Config: nets[name], DeclRange: r})
	}
}

var runtimeSchema = &hcl.BodySchema{Attributes: attrSchema("type", "default", "hypervisor", "overhead", "snapshotter", "binary")}

func (l *loader) decodeRuntime(blk *hcl.Block, p *profile.Profile) {
	r := profile.Runtime{Name: blk.Labels[0], Type: defaultRuntimeType(p), DeclRange: blk.DefRange}
	a := l.attrs(joinKey("runtime", r.Name), l.blockAttrs(blk, runtimeSchema))
	l.ranges[joinKey("runtime", r.Name, "name")] = blk.LabelRanges[0]
	a.str("type", &r.Type)
	a.boolean("default", &r.Default)
	a.str("hypervisor", &r.Hypervisor)
	a.strMap("overhead", &r.Overhead)
	a.str("snapshotter", &r.Snapshotter)
	a.str("binary", &r.Binary)
	if r.Type == profile.RuntimeKata && r.Hypervisor == "" {
		r.Hypervisor = DefaultHypervisor
	}
	if r.Type == profile.RuntimeNvidia && r.Binary == "" {
		r.Binary = paths.NvidiaRuntime
	}
	p.Runtimes = append(p.Runtimes, r)
}

var kubeletSchema = &hcl.BodySchema{
	Attributes: attrSchema(append(append([]string{}, componentAttrs...), "start", "config", "flags", "mode", "kubeconfig", "reserved", "client_ca_file")...),
	Blocks:     []hcl.BlockHeaderSchema{{Type: "credential_provider", LabelNames: []string{"name"}}},
}

func (l *loader) decodeKubelet(blk *hcl.Block, p *profile.Profile) {
	k := &p.Kubelet
	k.Config = map[string]any{}
	k.ConfigRanges = map[string]hcl.Range{}
	k.Mode = profile.KubeletKubeadm
	if blk == nil {
		return
	}
	k.Declared = true
	content := l.blockAttrs(blk, kubeletSchema)
	a := l.attrs("kubelet", content)
	l.componentFields(a, blk, pins.Kubelet, p.Node.Arch, &k.Component)
	a.boolean("start", &k.Start)
	a.str("mode", &k.Mode)
	if !a.str("kubeconfig", &k.Kubeconfig) && k.Mode == profile.KubeletKubeconfig {
		k.Kubeconfig = paths.KubeletKubeconfig
	}
	a.str("client_ca_file", &k.ClientCAFile)
	a.object("config", &k.Config, k.ConfigRanges)
	l.decodeReserved(a, k)
	for _, cb := range content.Blocks {
		if cp, ok := l.decodeCredentialProvider(cb, p.Node.Arch); ok {
			k.CredentialProviders = append(k.CredentialProviders, cp)
		}
	}
	if a.strList("flags", &k.Flags) {
		for _, f := range k.Flags {
			k.SecretFlags = append(k.SecretFlags, l.holdsSensitive(f))
		}
		// Each flag's own place, when the list is written out.
		if exprs, diags := hcl.ExprList(a.m["flags"].Expr); !diags.HasErrors() && len(exprs) == len(k.Flags) {
			for _, e := range exprs {
				k.FlagRanges = append(k.FlagRanges, e.Range())
			}
		}
	}
}

// defaultRuntimeType is a runtime's type when the profile leaves it out.
func defaultRuntimeType(p *profile.Profile) string {
	if p.Node.OS == profile.OSWindows {
		return profile.RuntimeRunhcs
	}
	return profile.RuntimeRunc
}

// defaultRuntime is the runtime of a profile that declares none: the one
// everybody expects on the node's OS (containerd's own default handler on
// Windows).
func defaultRuntime(p *profile.Profile) profile.Runtime {
	if p.Node.OS == profile.OSWindows {
		return profile.Runtime{Name: "runhcs-wcow-process", Type: profile.RuntimeRunhcs, Default: true}
	}
	return profile.Runtime{Name: "runc", Type: profile.RuntimeRunc, Default: true}
}

var imageSchema = &hcl.BodySchema{Attributes: attrSchema("sha256", "url")}

func (l *loader) decodeImage(blk *hcl.Block, p *profile.Profile) {
	im := profile.Image{Name: blk.Labels[0], DeclRange: blk.DefRange}
	key := joinKey("image", im.Name)
	a := l.attrs(key, l.blockAttrs(blk, imageSchema))
	l.ranges[joinKey(key, "name")] = blk.LabelRanges[0]
	a.str("sha256", &im.SHA256)
	a.str("url", &im.URL)
	if ref, err := images.Normalize(im.Name); err == nil {
		im.Ref = ref
		im.MirrorPath = images.MirrorPath(ref)
	}
	p.Images = append(p.Images, im)
}

var verifySchema = &hcl.BodySchema{Attributes: attrSchema("timeout", "handlers", "network_ready", "pod", "pod_image")}

func (l *loader) decodeVerify(blk *hcl.Block, p *profile.Profile) {
	v := &p.Verify
	v.Timeout = DefaultVerifyWait
	for _, r := range p.Runtimes {
		v.Handlers = append(v.Handlers, r.Name)
	}
	v.PodImage = p.Containerd.SandboxImage
	if blk == nil {
		return
	}
	a := l.attrs("verify", l.blockAttrs(blk, verifySchema))
	var timeout string
	if a.str("timeout", &timeout) {
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			l.errorf(a.rangeOf("timeout"), "Invalid timeout", "verify.timeout %q must be a positive duration such as \"60s\" or \"2m\".", timeout)
		} else {
			v.Timeout = d
		}
	}
	a.strList("handlers", &v.Handlers)
	a.boolean("network_ready", &v.NetworkReady)
	a.boolean("pod", &v.Pod)
	a.str("pod_image", &v.PodImage)
}
