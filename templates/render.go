// Package templates renders the files nodeup writes to a node from a typed
// profile: containerd's config.toml and hosts.toml, the systemd units, the
// KubeletConfiguration, crictl.yaml, the kernel module and sysctl lists and
// the RuntimeClasses. Every function is pure — profile values in, bytes out,
// the same bytes for the same profile — and none reads or writes the host.
package templates

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// File is one rendered file: where it goes on the node, its mode and its bytes.
type File struct {
	Path    string
	Mode    fs.FileMode
	Content []byte
}

// fileMode is the mode of a rendered file; one that holds a secret (a
// client key, the proxy's environment file) and file blocks have their own.
const fileMode fs.FileMode = 0o644

// The file name of a registry's hosts.toml, and what every rendered file says first.
const (
	hostsFileName = "hosts.toml"
	// header opens every rendered file that has comments, so whoever edits one
	// on the node learns where its content comes from.
	header = "Rendered by nodeup from the node profile; edits here are overwritten."
)

// Render returns every file (docs/profile.md, "Files on the node") that the profile implies,
// sorted by path, at the places the node's Layout names. On Windows nodes
// (render only) it leaves out the systemd units, the kernel module and
// sysctl files, and crictl.yaml (crictl on Windows reads a per-user file and
// finds containerd's default pipe without it). All rendering errors are
// returned together, each prefixed with the path it concerns; the typed
// errors of this package stay reachable with errors.As.
func Render(p *profile.Profile) ([]File, error) {
	r := renderer{}
	linux := p.Node.OS != profile.OSWindows
	layout := p.Layout()

	r.add(layout.ContainerdConfig)(ContainerdConfig(p))
	for _, reg := range p.Containerd.Registries {
		dir := path.Dir(HostsTOMLPath(layout, reg.Host))
		r.addAll(dir)(RegistryFiles(dir, reg))
	}
	r.add(layout.KubeletConfig)(KubeletConfigYAML(p))
	r.add(layout.RuntimeClasses)(RuntimeClassesYAML(p))
	if linux {
		if p.Crictl != nil {
			r.add(paths.CrictlConfig)(CrictlYAML(p))
		}
		// A distribution package ships its own unit; ours would shadow it.
		if p.Containerd.Source != profile.SourcePackage {
			r.add(paths.ContainerdUnit)(ContainerdUnit(p.Containerd.Version))
		}
		if p.Kubelet.Declared {
			// Only a kubelet nodeup installs gets nodeup's unit; one from
			// packages keeps its own, which the drop-in adjusts.
			if InstallsKubelet(p) {
				r.add(paths.KubeletUnit)(KubeletUnit(p))
			}
			r.add(paths.KubeletDropIn)(KubeletDropIn(p))
			if EnforcesKubeReserved(p) {
				r.add(paths.KubeSliceUnit)(KubeSliceUnit())
				r.add(paths.ContainerdSliceDropIn)(SliceDropIn())
				r.add(paths.KubeletSliceDropIn)(SliceDropIn())
			}
			if EnforcesSystemReserved(p) {
				r.add(paths.SystemSliceDropIn)(SystemSliceDropIn())
			}
			if HasCredentialProviders(p) {
				r.add(paths.CredentialProviderConfig)(CredentialProviderConfigYAML(p))
			}
			if HasSecretFlags(p) {
				f, err := KubeletSecretFlagsEnv(p)
				r.addAll(paths.KubeletSecretFlags)([]File{f}, err)
			}
		}
		if p.CNI != nil {
			for _, n := range p.CNI.Networks {
				r.add(CNINetworkPath(p.CNI, n))([]byte(n.Config), nil)
			}
		}
		if p.Node.Proxy != nil {
			r.addMode(paths.ProxyEnv, ProxyEnvMode)(ProxyEnv(p))
			r.add(paths.ContainerdProxyDropIn)(ProxyDropIn())
			if p.Kubelet.Declared {
				r.add(paths.KubeletProxyDropIn)(ProxyDropIn())
			}
		}
		r.add(paths.ModulesLoad)(ModulesLoad(p), nil)
		r.add(paths.Sysctl)(SysctlConf(p), nil)
		// file blocks: the profile's own bytes and mode.
		for _, f := range p.SiteFiles {
			r.addMode(f.Path, f.Mode)([]byte(f.Content), nil)
		}
	}

	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	slices.SortFunc(r.files, func(a, b File) int { return cmp.Compare(a.Path, b.Path) })
	return r.files, nil
}

// HostsTOMLPath is where containerd reads the hosts.toml of a registry host.
func HostsTOMLPath(layout profile.Layout, host string) string {
	return path.Join(layout.ContainerdCertsDir, host, hostsFileName)
}

// CNINetworkPath is where a cni.networks entry is written: in cni.conf_dir,
// where containerd loads network lists from.
func CNINetworkPath(c *profile.CNI, n profile.CNINetwork) string {
	return path.Join(c.ConfDir, n.Name)
}

// renderer collects files and errors so Render reports every failure at once.
type renderer struct {
	files []File
	errs  []error
}

// addAll is add for a renderer of several files, which gives their modes.
func (r *renderer) addAll(p string) func([]File, error) {
	return func(files []File, err error) {
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: %w", p, err))
			return
		}
		r.files = append(r.files, files...)
	}
}

// add returns a function taking a renderer's results, so each call site reads
// r.add(path)(Renderer(p)).
func (r *renderer) add(p string) func([]byte, error) { return r.addMode(p, fileMode) }

// addMode is add for a file of another mode.
func (r *renderer) addMode(p string, mode fs.FileMode) func([]byte, error) {
	return func(content []byte, err error) {
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: %w", p, err))
			return
		}
		r.files = append(r.files, File{Path: p, Mode: mode, Content: content})
	}
}
