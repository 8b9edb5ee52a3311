package plan

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/hashicorp/hcl/v2"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
	"github.com/nodeup/nodeup/templates"
)

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
	} else if c.Version != "" && c.ConfigVersion > nativeConfigVersion(c.Version) {
		l.errorf(l.at("containerd.config_version", c.DeclRange), "config_version too new",
			"containerd %s reads config version %d at most; set config_version = %d or leave it out.", c.Version, nativeConfigVersion(c.Version), nativeConfigVersion(c.Version))
	}
	l.validateCDI(p)
	seen := map[string]bool{}
	for _, r := range c.Registries {
		if seen[r.Host] {
			l.errorf(r.DeclRange.Ptr(), "Duplicate registry", "registry %q is declared twice.", r.Host)
		}
		seen[r.Host] = true
		if !registryHostPattern.MatchString(r.Host) {
			l.errorf(r.DeclRange.Ptr(), "Invalid registry host", "registry %q must be a host name (with an optional :port), e.g. \"docker.io\".", r.Host)
		}
		l.validateRegistry(r)
	}
	l.validateRawConfig(p)
}

// validateCDI checks containerd.cdi and cdi_spec_dirs: the CRI plugin has
// them from containerd 1.7; spec directories are node paths.
func (l *loader) validateCDI(p *profile.Profile) {
	c := p.Containerd
	for _, d := range c.CDISpecDirs {
		l.absPath(d, "containerd.cdi_spec_dirs", c.DeclRange)
	}
	if !c.CDI && len(c.CDISpecDirs) == 0 {
		return
	}
	at := l.at("containerd.cdi", c.DeclRange)
	if !c.CDI {
		at = l.at("containerd.cdi_spec_dirs", c.DeclRange)
	}
	switch {
	case before17(c):
		l.errorf(at, "CDI before containerd 1.7",
			"containerd %s has no CDI support (enable_cdi came in 1.7); use containerd 1.7 or later.", c.Version)
	case c.Source == profile.SourcePackage && c.Version == "":
		l.warnf(at, "CDI with the distribution's containerd",
			"CDI needs containerd 1.7 or later, and the distribution's containerd may be older (Debian 12 ships 1.6), which ignores it. Pin containerd.version, or use source = \"release\".")
	}
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
		var rule *templates.RawRuleError
		switch {
		case errors.As(err, &rule) && rule.Warning:
			l.warnf(l.rawConfigAt(c, rule.Line, rule.Col), rule.Summary, "containerd.config: %s.", rule.Msg)
		case errors.As(err, &rule):
			l.errorf(l.rawConfigAt(c, rule.Line, rule.Col), rule.Summary, "containerd.config: %s.", rule.Msg)
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
