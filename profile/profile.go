// Package profile holds the typed, validated node profile: what the HCL
// profile language decodes to, with defaults filled in and variables
// resolved. Renderers and the graph builder read it; nothing here touches
// the host or parses HCL.
package profile

import (
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/nodeup/nodeup/node/paths"
)

// Cgroup drivers accepted by node.cgroup_driver.
const (
	CgroupSystemd  = "systemd"
	CgroupCgroupfs = "cgroupfs"
)

// Operating systems accepted by node.os.
const (
	OSLinux   = "linux"
	OSWindows = "windows"
)

// Architectures nodeup installs, as node.arch and the keys of an
// artifact's sha256 name them.
const (
	ArchAMD64 = "amd64"
	ArchARM64 = "arm64"
)

// Arches are the architectures nodeup installs, in name order.
func Arches() []string { return []string{ArchAMD64, ArchARM64} }

// ArchPlaceholder in an artifact's url stands for the architecture the
// profile is loaded for.
const ArchPlaceholder = "{arch}"

// Artifact sources accepted by containerd.source, runc.source and crun.source.
const (
	SourceRelease = "release"
	SourcePackage = "package"
)

// Runtime types accepted by runtime.type: runc, crun, nvidia and kata on
// Linux, runhcs (process-isolated Windows containers) on Windows. crun and
// nvidia run under containerd's runc shim with another OCI runtime binary.
const (
	RuntimeRunc   = "runc"
	RuntimeCrun   = "crun"
	RuntimeNvidia = "nvidia"
	RuntimeKata   = "kata"
	RuntimeRunhcs = "runhcs"
)

// Profile is a whole node profile after decoding, defaults and validation.
type Profile struct {
	// Files are the profile's source files, in the order they were read.
	Files []string

	Node       Node
	Mirror     Mirror
	Containerd Containerd
	Runc       *Component // nil when the profile has no runc block
	Crun       *Component // nil when the profile has no crun block
	Crictl     *Component
	Kata       *Component
	CNI        *CNI
	Runtimes   []Runtime // in declaration order
	Kubelet    Kubelet
	Kubeadm    *Component // nil without a kubeadm block
	Kubectl    *Component
	Images     []Image // in declaration order
	Verify     Verify
	// SiteFiles are the file blocks, in path order.
	SiteFiles []SiteFile

	// Sensitive holds the values of sensitive variables, to be redacted
	// from every plan, log and JSON output.
	Sensitive []string

	// Given are the variables whose values came from outside the profile
	// (NODEUP_VAR_*, *.auto.vars.hcl, --var-file, --var), sorted by name,
	// with their final values: what another node needs, beside the
	// profile's files, to load the same profile.
	Given []GivenVar
	// Read are the files the profile read with file(), in the order read.
	Read []FileRead
}

// GivenVar is a variable set from outside the profile.
type GivenVar struct {
	Name      string
	Value     cty.Value
	Sensitive bool
}

// FileRead is one file read by file(): the path as the profile wrote it,
// and the absolute path it was read from.
type FileRead struct {
	Arg  string
	Path string
}

// Node is the node block.
type Node struct {
	CgroupDriver  string
	Arch          string // amd64 | arm64
	OS            string
	KernelModules []string
	Sysctl        map[string]string
	// Proxy is node.proxy; nil without one.
	Proxy     *Proxy
	DeclRange hcl.Range
	OSRange   hcl.Range // where node.os was written, if it was
}

// SystemdCgroup reports whether runc and the kubelet use the systemd
// cgroup driver: one setting drives both.
func (n Node) SystemdCgroup() bool { return n.CgroupDriver == CgroupSystemd }

// Mirror is the mirror block.
type Mirror struct {
	URLs      []string
	Upstream  bool // try the upstream URL after the mirrors
	DeclRange hcl.Range
}

// Component is a downloadable piece of the node: containerd, runc, crictl,
// kata, the CNI plugins or the kubelet.
type Component struct {
	Version string
	Source  string // SourceRelease or SourcePackage
	// URL is the upstream URL of the artifact for Node.Arch; mirrors map it.
	URL string
	// SHA256 is the artifact's digest: from the profile, else the pin table.
	// Empty only for Source == SourcePackage.
	SHA256    string
	DeclRange hcl.Range
}

// Containerd is the containerd block.
type Containerd struct {
	Component
	Socket        string
	SandboxImage  string
	ConfigVersion int // 2, 3 or 4: explicit, or derived from Version
	Registries    []Registry
	// CDI enables the Container Device Interface (enable_cdi); false
	// leaves containerd's default. CDISpecDirs are where it reads CDI
	// specs; empty leaves containerd's default.
	CDI         bool
	CDISpecDirs []string
	// RawConfig is TOML deep-merged over the rendered config.toml.
	RawConfig      string
	RawConfigRange hcl.Range
}

// Registry is a containerd registry block: certs.d/HOST/hosts.toml.
type Registry struct {
	Host string
	// Server is the upstream containerd falls back to after the hosts:
	// "" for HOST itself (docker.io's is registry-1.docker.io; the
	// _default registry has none, so each pull uses its own).
	Server string
	// HostSettings are the server's: the top of hosts.toml.
	HostSettings
	// Mirrors are tried before the server, in order, with the default
	// settings of a mirror, unless a Hosts entry of the same URL gives its own.
	Mirrors []string
	// Hosts are the host blocks, in declaration order.
	Hosts     []RegistryHost
	DeclRange hcl.Range
}

// RegistryHost is a host block of a registry: a mirror with settings of
// its own, a [host."URL"] table of hosts.toml.
type RegistryHost struct {
	URL string
	HostSettings
	DeclRange hcl.Range
}

// Registry host capabilities, as containerd's hosts.toml names them.
const (
	CapabilityPull    = "pull"
	CapabilityResolve = "resolve"
	CapabilityPush    = "push"
)

// HostSettings are what hosts.toml sets for one host (containerd's
// docs/hosts.md). Certificates and keys are PEM text; the renderer writes
// them beside hosts.toml and names their files.
type HostSettings struct {
	// Capabilities are nil for containerd's default (every operation).
	Capabilities []string
	CA           string
	ClientCert   string
	ClientKey    string // sensitive: the loader records it as such
	// Headers are sent with every request, by header name.
	Headers      map[string][]string
	SkipVerify   bool
	OverridePath bool
}

// CNI is the cni block.
type CNI struct {
	Component
	BinDir  string
	ConfDir string
	Plugins []string // plugin binaries to install and verify
	// Networks are the network lists written into ConfDir, by file name.
	Networks []CNINetwork
}

// CNINetwork is one entry of cni.networks: a CNI network configuration list
// (JSON) that nodeup writes into cni.conf_dir under Name.
type CNINetwork struct {
	Name      string // file name, e.g. 10-bridge.conflist
	Config    string
	DeclRange hcl.Range // where the entry was written
}

// Runtime is a runtime block: one CRI runtime handler.
type Runtime struct {
	Name       string // the handler name
	Type       string // RuntimeRunc, RuntimeCrun, RuntimeNvidia, RuntimeKata or RuntimeRunhcs
	Default    bool
	Hypervisor string            // kata only: a KataHypervisor name
	Overhead   map[string]string // RuntimeClass podFixed overhead (cpu, memory)
	// Snapshotter is the handler's own snapshotter; "" is containerd's default.
	Snapshotter string
	// Binary is the OCI runtime an nvidia handler runs (BinaryName).
	Binary    string
	DeclRange hcl.Range
}

// Kubelet modes accepted by kubelet.mode: how the kubelet finds (or does
// without) an API server, which decides the flags its unit passes.
const (
	// KubeletKubeadm joins a cluster with kubeadm: the bootstrap kubeconfig
	// kubeadm join writes, the kubeconfig TLS bootstrap produces, and
	// kubeadm's flags file.
	KubeletKubeadm = "kubeadm"
	// KubeletStandalone runs without an API server: static pods only.
	KubeletStandalone = "standalone"
	// KubeletKubeconfig uses a kubeconfig the node is given.
	KubeletKubeconfig = "kubeconfig"
)

// Kubelet is the kubelet block. The kubelet config is rendered even when
// the block is absent (Declared false).
type Kubelet struct {
	Declared bool
	Component
	// Start says whether nodeup starts the kubelet (kubeadm join usually does).
	Start bool
	// Mode is one of KubeletKubeadm (the default), KubeletStandalone and
	// KubeletKubeconfig.
	Mode string
	// Kubeconfig is the node path of the kubeconfig of KubeletKubeconfig.
	Kubeconfig string
	// ClientCAFile is the node path of the CA the kubelet of
	// KubeletKubeconfig checks client certificates with (the API server's).
	ClientCAFile string
	// Config holds KubeletConfiguration fields by their JSON names.
	Config map[string]any
	// ConfigRanges maps a top-level Config key to where it was written.
	ConfigRanges map[string]hcl.Range
	Flags        []string
	// SecretFlags says, for each of Flags, whether it holds a sensitive
	// value: the drop-in then reads it from a 0600 environment file.
	SecretFlags []bool
	// FlagRanges are where each of Flags was written, when the list was
	// written element by element (else nil).
	FlagRanges []hcl.Range
	// Reserved is kubelet.reserved; nil without one.
	Reserved *KubeletReserved
	// CredentialProviders are the credential_provider blocks, in
	// declaration order.
	CredentialProviders []CredentialProvider
}

// KubeadmMode reports whether kubeadm sets the kubelet up (KubeletKubeadm,
// the default): kubeadm then owns the kubelet's config file and kubeconfigs.
func (k Kubelet) KubeadmMode() bool { return k.Mode == KubeletKubeadm || k.Mode == "" }

// Image is an image block: an image archive (OCI layout or docker-archive
// tar) imported into containerd's k8s.io namespace, for images a node needs
// before any registry answers.
type Image struct {
	Name string // the reference as written in the block label
	// Ref is Name normalized as containerd's CRI stores it
	// (docker.io/library/busybox:1.36 for busybox:1.36).
	Ref    string
	URL    string // "" means each mirror's MirrorPath
	SHA256 string // of the archive
	// MirrorPath is where a mirror serves the archive: images/<name>/<tag>.tar.
	MirrorPath string
	DeclRange  hcl.Range
}

// Verify is the verify block.
type Verify struct {
	Timeout      time.Duration
	Handlers     []string
	NetworkReady bool
	// Pod runs a pod sandbox and a container through each handler.
	Pod bool
	// PodImage is the container image of that pod: verify.pod_image, else
	// the sandbox image.
	PodImage string
}

// WindowsEndpoint is containerd's CRI endpoint on a Windows node.
const WindowsEndpoint = "npipe://./pipe/containerd-containerd"

// Layout is where a node keeps the files nodeup renders. Paths are
// slash-separated; on Windows they are relative to the system drive
// (NativePath spells them as Windows does).
type Layout struct {
	ContainerdConfig   string
	ContainerdCertsDir string
	// KubeletConfig is the KubeletConfiguration nodeup renders: the
	// kubelet's config file, or in kubeadm mode a drop-in beside kubeadm's.
	KubeletConfig  string
	RuntimeClasses string
}

// Layout is the file layout of the profile's OS.
func (p *Profile) Layout() Layout {
	if p.Node.OS == OSWindows {
		return Layout{
			ContainerdConfig:   paths.WindowsContainerdDir + "/config.toml",
			ContainerdCertsDir: paths.WindowsContainerdDir + "/certs.d",
			KubeletConfig:      paths.KubeletConfig,
			RuntimeClasses:     paths.WindowsNodeupDir + "/runtimeclasses.yaml",
		}
	}
	kubeletConfig := paths.KubeletConfig
	if p.Kubelet.KubeadmMode() {
		// kubeadm writes config.yaml: nodeup's settings go to a drop-in.
		kubeletConfig = paths.KubeletConfigDropIn
	}
	return Layout{
		ContainerdConfig:   paths.ContainerdConfig,
		ContainerdCertsDir: paths.ContainerdCerts,
		KubeletConfig:      kubeletConfig,
		RuntimeClasses:     paths.RuntimeClasses,
	}
}

// NativePath spells a Layout path the way the node's OS does: unchanged on
// Linux, C:\Program Files\... on Windows. Rendered configs hold native paths.
func (p *Profile) NativePath(path string) string {
	if p.Node.OS != OSWindows {
		return path
	}
	return paths.WindowsDrive + strings.ReplaceAll(path, "/", `\`)
}

// RuntimeEndpoint is the CRI endpoint the kubelet and crictl talk to.
func (p *Profile) RuntimeEndpoint() string {
	if p.Node.OS == OSWindows {
		return WindowsEndpoint
	}
	return "unix://" + p.Containerd.Socket
}

// RuntimeLabelPrefix starts the node label that says a node has a runtime
// handler: RuntimeLabel.
const RuntimeLabelPrefix = "runtime.nodeup.io/"

// RuntimeLabel is the node label, key and value, that a RuntimeClass of a
// handler not every node has selects: runtime.nodeup.io/kata-qemu=true.
func RuntimeLabel(handler string) (key, value string) {
	return RuntimeLabelPrefix + handler, "true"
}

// RuntimeLabels are the labels of the node's handlers that are not the
// default one, which every node has, in declaration order, as key=value.
func (p *Profile) RuntimeLabels() []string {
	var out []string
	for _, r := range p.Runtimes {
		if !r.Default {
			k, v := RuntimeLabel(r.Name)
			out = append(out, k+"="+v)
		}
	}
	return out
}

// DefaultRuntime returns the runtime marked default (validation ensures one).
func (p *Profile) DefaultRuntime() *Runtime {
	for i := range p.Runtimes {
		if p.Runtimes[i].Default {
			return &p.Runtimes[i]
		}
	}
	return nil
}
