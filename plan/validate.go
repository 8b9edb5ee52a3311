package plan

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/hashicorp/hcl/v2"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodeup/nodeup/node/images"
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
	l.validateMirror(p)
	l.validateComponents(p)
	l.validateRuntimes(p)
	l.validateContainerd(p)
	if p.CNI != nil {
		l.validateCNI(p)
	}
	l.validateKubelet(p)
	l.validateImages(p)
	l.validateVerify(p)
	l.validateDestinations(p)
	// Anything else the renderers refuse, once the rules found nothing.
	if !l.diags.HasErrors() {
		if _, err := templates.Render(p); err != nil {
			l.errorf(l.at("containerd", p.Containerd.DeclRange), "Cannot render the node's files", "%s.", err)
		}
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
	if !oneOf(n.Arch, "amd64", "arm64") {
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
	}
	if !m.Upstream && len(m.URLs) == 0 {
		l.errorf(l.at("mirror.upstream", m.DeclRange), "No artifact source",
			"mirror.upstream = false with no mirror.urls leaves nowhere to download from; add a mirror URL.")
	}
}

// checkURL accepts http, https and file URLs.
func (l *loader) checkURL(raw string, subject *hcl.Range, what string) {
	u, err := url.Parse(raw)
	if err != nil || !oneOf(u.Scheme, "http", "https", "file") || (u.Scheme != "file" && u.Host == "") || (u.Scheme == "file" && !path.IsAbs(u.Path)) {
		l.errorf(subject, "Invalid URL", "%s: %q is not an http://, https:// or file:///absolute/path URL.", what, raw)
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
	add("crictl", pins.Crictl, p.Crictl)
	add("kata", pins.Kata, p.Kata)
	if p.CNI != nil {
		add("cni", pins.CNI, &p.CNI.Component)
	}
	if p.Kubelet.Declared {
		add("kubelet", pins.Kubelet, &p.Kubelet.Component)
	}
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
		switch {
		case c.SHA256 == "" && (l.failed[name+".sha256"] || l.failed[name+".url"]):
			// reported where it failed
		case c.SHA256 == "":
			versions := l.opts.Pins.Versions(nc.key, p.Node.Arch)
			if _, custom := l.ranges[name+".url"]; custom {
				l.errorf(l.at(name+".url", c.DeclRange), "Missing sha256",
					"%s.url is not the upstream release, so nodeup cannot know its sha256; set sha256 = \"<64 hex digits>\".", name)
			} else {
				l.errorf(l.at(name+".version", c.DeclRange), "Version not pinned",
					"%s %s (%s) is not in nodeup's pin table, so its sha256 must be given: set sha256 = \"<64 hex digits>\". Pinned versions: %s.",
					name, c.Version, p.Node.Arch, strings.Join(versions, ", "))
			}
		case !sha256Pattern.MatchString(c.SHA256):
			l.errorf(l.at(name+".sha256", c.DeclRange), "Malformed sha256",
				"%s.sha256 must be 64 lowercase hex digits; got %q (%d characters).", name, c.SHA256, len(c.SHA256))
		}
	}
	if p.Runc != nil && p.Runc.Source == profile.SourcePackage && p.Containerd.Source != profile.SourcePackage {
		l.warnf(l.at("runc.source", p.Runc.DeclRange), "runc from packages, containerd from release",
			"The distribution's runc lands in /usr/sbin/runc; containerd is pointed at it.")
	}
	for _, nc := range components(p).list() {
		if nc.c.Source == profile.SourcePackage && !oneOf(nc.name, "containerd", "runc") {
			l.errorf(l.at(nc.name+".source", nc.c.DeclRange), "Invalid source", "source = \"package\" is for containerd and runc only.")
		}
	}
}

func newest(t *pins.Table, component, arch string) string {
	if v := t.Versions(component, arch); len(v) > 0 {
		return v[0]
	}
	return "1.0.0"
}

func (l *loader) validateContainerd(p *profile.Profile) {
	c := p.Containerd
	if c.DeclRange.Filename == "" {
		return
	}
	if p.Node.OS == profile.OSLinux && !path.IsAbs(c.Socket) {
		l.errorf(l.at("containerd.socket", c.DeclRange), "Relative path", "containerd.socket %q must be an absolute path such as %q.", c.Socket, paths.ContainerdSocket)
	}
	if c.SandboxImage == "" || strings.ContainsAny(c.SandboxImage, " \t\n") {
		l.errorf(l.at("containerd.sandbox_image", c.DeclRange), "Invalid sandbox image", "containerd.sandbox_image %q is not an image reference.", c.SandboxImage)
	}
	if !oneOf(fmt.Sprint(c.ConfigVersion), "2", "3", "4") {
		l.errorf(l.at("containerd.config_version", c.DeclRange), "Invalid config_version", "containerd.config_version must be 2, 3 or 4; got %d.", c.ConfigVersion)
	} else if c.Version != "" && c.ConfigVersion > ConfigVersionFor(c.Version) {
		l.errorf(l.at("containerd.config_version", c.DeclRange), "config_version too new",
			"containerd %s reads config version %d at most; set config_version = %d or leave it out.", c.Version, ConfigVersionFor(c.Version), ConfigVersionFor(c.Version))
	}
	seen := map[string]bool{}
	for _, r := range c.Registries {
		if seen[r.Host] {
			l.errorf(r.DeclRange.Ptr(), "Duplicate registry", "registry %q is declared twice.", r.Host)
		}
		seen[r.Host] = true
		if !registryHostPattern.MatchString(r.Host) {
			l.errorf(r.DeclRange.Ptr(), "Invalid registry host", "registry %q must be a host name (with an optional :port), e.g. \"docker.io\".", r.Host)
		}
		for _, m := range r.Mirrors {
			l.checkURL(m, l.at("containerd.registry."+r.Host+".mirrors", r.DeclRange), "registry "+r.Host+" mirrors")
		}
	}
	l.validateRawConfig(p)
}

// validateRawConfig checks containerd.config on its own, so its errors show
// whatever else is wrong, each at the line of the raw config it concerns.
func (l *loader) validateRawConfig(p *profile.Profile) {
	c := p.Containerd
	if c.RawConfig == "" || !oneOf(fmt.Sprint(c.ConfigVersion), "2", "3", "4") {
		return
	}
	for _, err := range templates.CheckRawConfig(p) {
		var rawErr *templates.RawConfigError
		var criErr *templates.CRIDisabledError
		var owned *templates.OwnedKeyError
		switch {
		case errors.As(err, &rawErr):
			l.errorf(l.rawConfigAt(c, rawErr.Line, rawErr.Col), "Invalid containerd config TOML", "containerd.config: %s.", rawErr.Msg)
		case errors.As(err, &criErr):
			l.errorf(l.rawConfigAt(c, criErr.Line, 0), "CRI plugin disabled",
				"containerd.config disables %s; nodeup needs the CRI plugin to run Kubernetes pods. Remove it from disabled_plugins.", criErr.Plugin)
		case errors.As(err, &owned):
			l.errorf(l.rawConfigAt(c, owned.Line, owned.Col), "containerd.config overrides "+owned.Owner,
				"containerd.config: %s. Typed settings own these keys so that containerd and the kubelet agree.", owned)
		default:
			l.errorf(l.at("containerd.config", c.DeclRange), "Invalid containerd config", "containerd.config: %s.", err)
		}
	}
}

// rawConfigAt is where line (and col, when known) of containerd.config was
// written: that line inside a heredoc, from the column given (else its
// first non-blank) to its end; for a config given any other way (a quoted
// string, file(), a variable), the whole attribute.
func (l *loader) rawConfigAt(c profile.Containerd, line, col int) *hcl.Range {
	r := c.RawConfigRange
	f := l.parser.Files()[r.Filename]
	if f == nil || line <= 0 || r.Start.Byte >= len(f.Bytes) || !bytes.HasPrefix(f.Bytes[r.Start.Byte:], []byte("<<")) {
		return &r
	}
	// The heredoc's first content line follows the line it opens on; its
	// last line holds the closing marker.
	target := r.Start.Line + line
	if target >= r.End.Line {
		return &r
	}
	src := f.Bytes
	off := r.Start.Byte
	for n := r.Start.Line; n < target; n++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return &r
		}
		off += i + 1
	}
	end := off + bytes.IndexByte(src[off:], '\n')
	if end < off {
		end = len(src)
	}
	text := src[off:end]
	start := len(text) - len(bytes.TrimLeft(text, " \t"))
	// "<<-" strips the heredoc's indentation: the raw line is the end of
	// the file's line, and col counts from its start.
	if lines := strings.Split(c.RawConfig, "\n"); col > 0 && line <= len(lines) {
		if strip := len(text) - len(lines[line-1]); strip >= 0 && strip+col-1 < len(text) {
			start = strip + col - 1
		}
	}
	return &hcl.Range{
		Filename: r.Filename,
		Start:    hcl.Pos{Line: target, Column: start + 1, Byte: off + start},
		End:      hcl.Pos{Line: target, Column: len(text) + 1, Byte: end},
	}
}

// validateCNI checks the cni block's directories and plugin names.
func (l *loader) validateCNI(p *profile.Profile) {
	cni := p.CNI
	if p.Node.OS == profile.OSWindows {
		for _, d := range []struct{ what, dir string }{{"cni.bin_dir", cni.BinDir}, {"cni.conf_dir", cni.ConfDir}} {
			if !windowsAbsPattern.MatchString(d.dir) {
				l.errorf(l.at(d.what, cni.DeclRange), "Relative path", "%s %q must be an absolute Windows path such as %q.", d.what, d.dir, `C:\Program Files\containerd\cni\bin`)
			}
		}
	} else {
		l.absPath(cni.BinDir, "cni.bin_dir", cni.DeclRange)
		l.absPath(cni.ConfDir, "cni.conf_dir", cni.DeclRange)
	}
	if cni.Plugins != nil && len(cni.Plugins) == 0 {
		l.errorf(l.at("cni.plugins", cni.DeclRange), "No CNI plugins", "cni.plugins is empty; list the plugins to install or leave it out for all of them.")
	}
	for _, pl := range cni.Plugins {
		if !modulePattern.MatchString(pl) {
			l.errorf(l.at("cni.plugins", cni.DeclRange), "Invalid CNI plugin name", "%q is not a plugin binary name.", pl)
		}
	}
	l.validateCNINetworks(p)
}

// cniNetworkNamePattern is a file name containerd loads from the CNI
// configuration directory as a network list.
var cniNetworkNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*\.conflist$`)

// validateCNINetworks checks each cni.networks entry the way containerd
// will read it: a file name ending in .conflist, and a CNI network list
// (libcni) with a cniVersion and at least one plugin, each of them a
// plugin the cni block installs.
func (l *loader) validateCNINetworks(p *profile.Profile) {
	cni := p.CNI
	if len(cni.Networks) > 0 && p.Node.OS == profile.OSWindows {
		l.errorf(l.at("cni.networks", cni.DeclRange), "cni.networks on Windows",
			"nodeup writes CNI network lists on Linux nodes only; remove cni.networks or set node.os = \"linux\".")
		return
	}
	installed := map[string]bool{}
	for _, pl := range cni.Plugins {
		installed[pl] = true
	}
	for _, n := range cni.Networks {
		at := n.DeclRange.Ptr()
		key := fmt.Sprintf("cni.networks[%q]", n.Name)
		if !cniNetworkNamePattern.MatchString(n.Name) {
			l.errorf(at, "Invalid CNI network file name",
				"%s: %q must be a file name ending in .conflist, such as \"10-bridge.conflist\"; containerd loads the first one in name order.", key, n.Name)
		}
		list, err := libcni.ConfListFromBytes([]byte(n.Config))
		if err != nil {
			l.errorf(at, "Invalid CNI network list", "%s: %s. Give a JSON network list: {\"cniVersion\": \"1.0.0\", \"name\": ..., \"plugins\": [{\"type\": \"bridge\", ...}]}.", key, err)
			continue
		}
		switch {
		case list.CNIVersion == "":
			l.errorf(at, "Invalid CNI network list", "%s has no cniVersion; add \"cniVersion\": \"1.0.0\".", key)
		case len(list.Plugins) == 0:
			l.errorf(at, "Invalid CNI network list", "%s has no plugins; add \"plugins\": [{\"type\": \"bridge\", ...}].", key)
		}
		for _, pl := range list.Plugins {
			if t := pl.Network.Type; cni.Plugins != nil && !installed[t] {
				l.errorf(at, "CNI plugin not installed",
					"%s uses the %q plugin, which cni.plugins does not install; add %q to cni.plugins.", key, t, t)
			}
		}
	}
}

// checkQuantity accepts Kubernetes resource quantities such as 250m or 160Mi.
func checkQuantity(q string) error {
	_, err := resource.ParseQuantity(q)
	return err
}

func (l *loader) absPath(p, what string, decl hcl.Range) {
	if !path.IsAbs(p) {
		l.errorf(l.at(what, decl), "Relative path", "%s %q must be an absolute path.", what, p)
	}
}

func (l *loader) validateRuntimes(p *profile.Profile) {
	seen := map[string]profile.Runtime{}
	var defaults []profile.Runtime
	for _, r := range p.Runtimes {
		nameAt := l.at("runtime."+r.Name+".name", r.DeclRange)
		if prev, ok := seen[r.Name]; ok {
			l.errorf(nameAt, "Duplicate runtime", "runtime %q is declared twice; the first is at %s.", r.Name, prev.DeclRange)
			continue
		}
		seen[r.Name] = r
		if len(r.Name) > 63 || !handlerPattern.MatchString(r.Name) {
			l.errorf(nameAt, "Invalid runtime handler name",
				"%q cannot be a RuntimeClass handler: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit.", r.Name)
		}
		l.validateRuntimeType(p, r)
		for _, k := range sortedKeys(r.Overhead) {
			if !oneOf(k, "cpu", "memory") {
				l.errorf(l.at("runtime."+r.Name+".overhead", r.DeclRange), "Invalid overhead", "overhead key %q: use cpu and memory.", k)
			} else if err := checkQuantity(r.Overhead[k]); err != nil {
				l.errorf(l.at("runtime."+r.Name+".overhead", r.DeclRange), "Invalid overhead", "overhead %s = %q: %s.", k, r.Overhead[k], err)
			}
		}
		if r.Default {
			defaults = append(defaults, r)
		}
	}
	switch {
	case len(defaults) == 0 && len(p.Runtimes) > 0:
		l.errorf(p.Runtimes[0].DeclRange.Ptr(), "No default runtime",
			"No runtime has default = true; containerd needs one default handler. Mark one, usually runc.")
	case len(defaults) > 1:
		l.errorf(l.at("runtime."+defaults[1].Name+".default", defaults[1].DeclRange), "Two default runtimes",
			"runtime %q and runtime %q both have default = true; keep one.", defaults[0].Name, defaults[1].Name)
	}
	if d := p.DefaultRuntime(); d != nil && d.Type == profile.RuntimeKata {
		l.warnf(d.DeclRange.Ptr(), "kata is the default runtime", "Every pod without a RuntimeClass will run in a VM.")
	}
	if p.Kata != nil {
		hasKata := false
		for _, r := range p.Runtimes {
			hasKata = hasKata || r.Type == profile.RuntimeKata
		}
		if !hasKata {
			l.warnf(p.Kata.DeclRange.Ptr(), "kata without a runtime", "kata is installed but no runtime block has type = \"kata\", so no pod can use it.")
		}
	}
}

// validateRuntimeType checks a runtime against its type: the node's OS runs
// it, and what it needs is in the profile.
func (l *loader) validateRuntimeType(p *profile.Profile, r profile.Runtime) {
	typeAt := l.at("runtime."+r.Name+".type", r.DeclRange)
	windows := p.Node.OS == profile.OSWindows
	if r.Type != profile.RuntimeKata && r.Hypervisor != "" {
		l.errorf(l.at("runtime."+r.Name+".hypervisor", r.DeclRange), "hypervisor on a "+r.Type+" runtime", "hypervisor applies to type = \"kata\" runtimes only.")
	}
	switch r.Type {
	case profile.RuntimeRunc, profile.RuntimeKata:
		if windows {
			l.errorf(typeAt, "Linux runtime on a Windows node",
				"runtime %q has type = %q, which runs on Linux only; a Windows node runs type = \"runhcs\".", r.Name, r.Type)
			return
		}
	case profile.RuntimeRunhcs:
		if !windows {
			l.errorf(typeAt, "Windows runtime on a Linux node",
				"runtime %q has type = \"runhcs\", which runs Windows containers; use \"runc\" or \"kata\", or set node.os = \"windows\".", r.Name)
		}
		return
	default:
		l.errorf(typeAt, "Invalid runtime type", "runtime %q has type %q; use \"runc\" or \"kata\" (\"runhcs\" on Windows).", r.Name, r.Type)
		return
	}
	if r.Type == profile.RuntimeRunc {
		// containerd would run whatever "runc" is on its PATH, if any: the
		// runc comes from a runc block, or with a packaged containerd,
		// whose package brings its own.
		if p.Runc == nil && p.Containerd.Source != profile.SourcePackage {
			at := r.DeclRange.Ptr()
			implicit := ""
			if r.DeclRange.Filename == "" {
				// The runtime every profile without runtime blocks gets.
				at, implicit = l.at("containerd", p.Containerd.DeclRange), " (a profile without runtime blocks gets it)"
				if at == nil {
					at = l.profileStart()
				}
			}
			l.errorf(at, "runc runtime without runc",
				"runtime %q%s has type = \"runc\" but the profile has no runc block, so nothing installs the runc it runs. Add runc { version = %q }, or runc { source = \"package\" } for the distribution's runc.",
				r.Name, implicit, newest(l.opts.Pins, pins.Runc, p.Node.Arch))
		}
		return
	}
	if p.Kata == nil {
		l.errorf(r.DeclRange.Ptr(), "kata runtime without kata",
			"runtime %q has type = \"kata\" but the profile has no kata block; add kata { version = %q }.", r.Name, newest(l.opts.Pins, pins.Kata, p.Node.Arch))
	}
	hvAt := l.at("runtime."+r.Name+".hypervisor", r.DeclRange)
	hv, ok := profile.LookupKataHypervisor(r.Hypervisor)
	if !ok {
		var names []string
		for _, h := range profile.KataHypervisors() {
			names = append(names, h.Name)
		}
		l.errorf(hvAt, "Unknown hypervisor",
			"hypervisor %q has no kata configuration; use one of %s.", r.Hypervisor, strings.Join(names, ", "))
		return
	}
	if p.Kata != nil && p.Kata.Version != "" && !hv.ShippedIn(p.Kata.Version) {
		var alt []string
		for _, h := range profile.KataHypervisors() {
			if h.RuntimeRS == hv.RuntimeRS && h.ShippedIn(p.Kata.Version) && strings.HasPrefix(h.Name, r.Hypervisor[:2]) {
				alt = append(alt, fmt.Sprintf("%q", h.Name))
			}
		}
		hint := ""
		if len(alt) > 0 {
			hint = " Use " + strings.Join(alt, " or ") + "."
		}
		l.errorf(hvAt, "Hypervisor not in this kata release",
			"kata %s ships no configuration-%s.toml.%s", p.Kata.Version, hv.Name, hint)
	}
}

func (l *loader) validateKubelet(p *profile.Profile) {
	k := p.Kubelet
	if k.Start && k.Version == "" {
		l.errorf(l.at("kubelet.start", k.DeclRange), "kubelet start without a binary",
			"kubelet.start = true needs kubelet.version so nodeup installs the kubelet it starts.")
	}
	l.validateKubeletMode(p)
	for i, f := range k.Flags {
		if !strings.HasPrefix(f, "--") {
			l.errorf(l.flagAt(p, i), "Invalid kubelet flag", "kubelet flag %q must start with --.", f)
		}
	}
	for _, err := range templates.KubeletFlagConflicts(p) {
		var fc *templates.FlagConflictError
		if errors.As(err, &fc) {
			l.errorf(l.flagAt(p, fc.Index), "Conflicting kubelet flag",
				"kubelet.flags has %q, which overrides %s: the kubelet would disagree with the configuration nodeup renders. %s.",
				k.Flags[fc.Index], fc.Owner, upperFirst(fc.Fix))
		}
	}
	_, err := templates.KubeletConfiguration(p)
	for _, err := range leafErrors(err) {
		var unknown *templates.UnknownFieldError
		var conflict *templates.ConflictError
		var invalid *templates.InvalidValueError
		switch {
		case errors.As(err, &invalid) && invalid.Field != "":
			l.errorf(l.configKeyAt(p, invalid.Field), "Invalid kubelet config value",
				"kubelet.config.%s: %s. Check the KubeletConfiguration (v1beta1) type of this field.", invalid.Field, invalid.Msg)
		case errors.As(err, &unknown):
			l.errorf(l.configKeyAt(p, unknown.Field), "Unknown KubeletConfiguration field",
				"kubelet.config has %q, which is not a KubeletConfiguration (v1beta1) field. Check its spelling: fields use their JSON names, such as maxPods.", unknown.Field)
		case errors.As(err, &conflict) && conflict.Want == "":
			l.errorf(l.configKeyAt(p, conflict.Field), "Conflicting kubelet setting",
				"kubelet.config sets %s = %s, which %s does not use. Remove it.", conflict.Field, conflict.Got, conflict.Owner)
		case errors.As(err, &conflict):
			l.errorf(l.configKeyAt(p, conflict.Field), "Conflicting kubelet setting",
				"kubelet.config sets %s = %s, but %s gives %s. Remove it: nodeup derives it so the kubelet and containerd agree.", conflict.Field, conflict.Got, conflict.Owner, conflict.Want)
		default:
			l.errorf(l.at("kubelet.config", k.DeclRange), "Invalid kubelet config", "kubelet.config: %s.", err)
		}
	}
}

// validateKubeletMode checks kubelet.mode and what each mode needs: a
// standalone kubelet has no API server to authenticate and authorize
// requests with, and the kubeconfig of mode "kubeconfig" is a node path.
func (l *loader) validateKubeletMode(p *profile.Profile) {
	k := p.Kubelet
	modeAt := l.at("kubelet.mode", k.DeclRange)
	if l.written("kubelet.kubeconfig") && k.Mode != profile.KubeletKubeconfig {
		l.errorf(l.at("kubelet.kubeconfig", k.DeclRange), "kubeconfig without mode = \"kubeconfig\"",
			"kubelet.kubeconfig is used by kubelet.mode = \"kubeconfig\" only; the %s mode does not read it. Set mode = \"kubeconfig\" or remove kubeconfig.", k.Mode)
	}
	if !oneOf(k.Mode, profile.KubeletKubeadm, profile.KubeletStandalone, profile.KubeletKubeconfig) {
		l.errorf(modeAt, "Invalid kubelet mode",
			"kubelet.mode is %q; use \"kubeadm\" (join a cluster with kubeadm, the default), \"standalone\" (static pods, no API server) or \"kubeconfig\" (a kubeconfig the node is given).", k.Mode)
		return
	}
	if k.Mode == profile.KubeletKubeconfig {
		l.absPath(k.Kubeconfig, "kubelet.kubeconfig", k.DeclRange)
	}
	if k.Mode != profile.KubeletStandalone {
		return
	}
	webhookAuthn, set := nested(k.Config, "authentication", "webhook", "enabled").(bool)
	at := func(key string) *hcl.Range {
		if r, ok := k.ConfigRanges[key]; ok {
			return &r
		}
		return modeAt
	}
	if !set || webhookAuthn {
		l.errorf(at("authentication"), "Standalone kubelet with webhook authentication",
			"A standalone kubelet has no API server to check tokens with, and will not start with webhook authentication (the default). Add authentication = { webhook = { enabled = false } } to kubelet.config (and anonymous = { enabled = true } to let local clients in).")
	}
	if mode, _ := nested(k.Config, "authorization", "mode").(string); mode != "AlwaysAllow" {
		l.errorf(at("authorization"), "Standalone kubelet with webhook authorization",
			"A standalone kubelet has no API server to authorize requests with, and will not start with authorization mode Webhook (the default). Add authorization = { mode = \"AlwaysAllow\" } to kubelet.config.")
	}
	if _, ok := k.Config["staticPodPath"]; !ok {
		l.warnf(modeAt, "Standalone kubelet without staticPodPath",
			"A standalone kubelet runs static pods only; set kubelet.config staticPodPath = \"/etc/kubernetes/manifests\" to give it some.")
	}
	if !k.Start {
		l.warnf(modeAt, "Standalone kubelet not started",
			"No kubeadm join will start a standalone kubelet; set kubelet.start = true to have nodeup start it.")
	}
}

// nested is m[keys[0]][keys[1]]..., or nil.
func nested(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// flagAt is where kubelet.flags[i] was written, else the attribute.
func (l *loader) flagAt(p *profile.Profile, i int) *hcl.Range {
	if i < len(p.Kubelet.FlagRanges) {
		r := p.Kubelet.FlagRanges[i]
		return &r
	}
	return l.at("kubelet.flags", p.Kubelet.DeclRange)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// leafErrors flattens errors.Join trees, so every problem is reported.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// configKeyAt is where a kubelet.config key was written; a nested field
// ("evictionHard.memory.available") points at its top-level key.
func (l *loader) configKeyAt(p *profile.Profile, field string) *hcl.Range {
	top, _, _ := strings.Cut(field, ".")
	if r, ok := p.Kubelet.ConfigRanges[top]; ok {
		return &r
	}
	return l.at("kubelet.config", p.Kubelet.DeclRange)
}

func (l *loader) validateVerify(p *profile.Profile) {
	names := map[string]bool{}
	for _, r := range p.Runtimes {
		names[r.Name] = true
	}
	for _, h := range p.Verify.Handlers {
		if !names[h] {
			l.errorf(l.at("verify.handlers", hcl.Range{}), "Unknown handler", "verify.handlers names %q, which no runtime block declares.", h)
		}
	}
	if _, err := images.Normalize(p.Verify.PodImage); err != nil && l.written("verify.pod_image") {
		l.errorf(l.at("verify.pod_image", hcl.Range{}), "Invalid pod image", "verify.pod_image: %s.", err)
	}
	if p.Verify.NetworkReady && p.CNI == nil {
		l.errorf(l.at("verify.network_ready", hcl.Range{}), "network_ready without CNI", "verify.network_ready = true needs a cni block and a network config in its conf_dir.")
	}
}

// validateImages checks the image blocks: a tagged reference, a pinned
// archive, and somewhere to fetch it from.
func (l *loader) validateImages(p *profile.Profile) {
	seen := map[string]profile.Image{}
	for _, im := range p.Images {
		key := joinKey("image", im.Name)
		nameAt := l.at(joinKey(key, "name"), im.DeclRange)
		if _, err := images.Normalize(im.Name); err != nil {
			l.errorf(nameAt, "Invalid image name", "image %s.", err)
		} else if prev, ok := seen[im.Ref]; ok {
			l.errorf(nameAt, "Duplicate image", "image %q is %s, which the image block at %s preloads already.", im.Name, im.Ref, prev.DeclRange)
		} else {
			seen[im.Ref] = im
		}
		switch {
		case l.failed[joinKey(key, "sha256")]:
		case im.SHA256 == "":
			l.errorf(im.DeclRange.Ptr(), "Missing sha256", "image %q needs the sha256 of its archive: sha256 = \"<64 hex digits>\" (sha256sum FILE.tar).", im.Name)
		case !sha256Pattern.MatchString(im.SHA256):
			l.errorf(l.at(joinKey(key, "sha256"), im.DeclRange), "Malformed sha256",
				"image %q: sha256 must be 64 lowercase hex digits; got %q (%d characters).", im.Name, im.SHA256, len(im.SHA256))
		}
		if im.URL != "" {
			l.checkURL(im.URL, l.at(joinKey(key, "url"), im.DeclRange), "image "+im.Name+" url")
		} else if len(p.Mirror.URLs) == 0 && !l.failed[joinKey(key, "url")] && im.Ref != "" {
			l.errorf(im.DeclRange.Ptr(), "Nowhere to fetch the image",
				"image %q has no url and the profile no mirror.urls; add a mirror that serves %s, or set url.", im.Name, im.MirrorPath)
		}
	}
	c := p.Containerd
	if c.DeclRange.Filename == "" || p.Mirror.Upstream || len(p.Images) == 0 {
		return
	}
	if sandbox, err := images.Normalize(c.SandboxImage); err == nil {
		if _, ok := seen[sandbox]; !ok {
			l.warnf(l.at("containerd.sandbox_image", c.DeclRange), "Sandbox image not preloaded",
				"This profile preloads images for a node without upstream access, but not the sandbox image %s; unless a registry serves it, no pod can start. Add an image %q block.", c.SandboxImage, c.SandboxImage)
		}
	}
}
