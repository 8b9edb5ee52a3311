// Package paths is the one definition of every node path nodeup knows:
// where it installs binaries, where the rendered files and units go, and
// where it keeps its own state, backups, cache and lock. Paths are node
// paths: under --root they are joined to the root by node/host.
package paths

import (
	"fmt"
	"path"
	"strings"
)

// Where release binaries go.
const (
	BinDir  = "/usr/local/bin"
	SbinDir = "/usr/local/sbin"

	Containerd = BinDir + "/containerd"
	Ctr        = BinDir + "/ctr"
	Runc       = SbinDir + "/runc"
	Crun       = BinDir + "/crun"
	Kubelet    = BinDir + "/kubelet"
	Kubeadm    = BinDir + "/kubeadm"
	Kubectl    = BinDir + "/kubectl"
	Nodeup     = BinDir + "/nodeup"
)

// Where distribution packages put the same binaries.
const (
	PackageContainerd = "/usr/bin/containerd"
	PackageCtr        = "/usr/bin/ctr"
	PackageRunc       = "/usr/sbin/runc"
	PackageCrun       = "/usr/bin/crun"
	PackageKubelet    = "/usr/bin/kubelet"
	PackageKubeadm    = "/usr/bin/kubeadm"
	PackageKubectl    = "/usr/bin/kubectl"
)

// The CNI plugins and networks, containerd's socket, and kata's tree.
const (
	CNIBinDir        = "/opt/cni/bin"
	CNIConfDir       = "/etc/cni/net.d"
	ContainerdSocket = "/run/containerd/containerd.sock"
	KataDir          = "/opt/kata"
	// NvidiaRuntime is where the NVIDIA Container Toolkit's packages (and
	// the GPU operator) put the runtime an nvidia handler runs.
	NvidiaRuntime = "/usr/bin/nvidia-container-runtime"
	KataShim      = KataDir + "/bin/containerd-shim-kata-v2"
)

// The rest of kata's static release: the Rust runtime's (runtime-rs) shim,
// and the directories of the two runtimes' configurations.
const (
	KataRustShim      = KataDir + "/runtime-rs/bin/containerd-shim-kata-v2"
	KataConfigDir     = KataDir + "/share/defaults/kata-containers"
	KataRustConfigDir = KataConfigDir + "/runtime-rs"
)

// Files nodeup renders.
const (
	ContainerdConfig = "/etc/containerd/config.toml"
	ContainerdCerts  = "/etc/containerd/certs.d"
	KubeletConfig    = "/var/lib/kubelet/config.yaml"
	KubeadmFlags     = "/var/lib/kubelet/kubeadm-flags.env"
	// KubeletConfigDir is the kubelet's drop-in directory (--config-dir):
	// its *.conf KubeletConfiguration documents override --config's file.
	KubeletConfigDir = "/etc/kubernetes/kubelet.conf.d"
	// KubeletConfigDropIn holds nodeup's kubelet settings in kubeadm mode,
	// where kubeadm owns KubeletConfig.
	KubeletConfigDropIn = KubeletConfigDir + "/50-nodeup.conf"
	// The files kubelet packages read KUBELET_EXTRA_ARGS from (deb, rpm).
	KubeletDefaults  = "/etc/default/kubelet"
	KubeletSysconfig = "/etc/sysconfig/kubelet"
	RuntimeClasses   = ConfigDir + "/runtimeclasses.yaml"
	CrictlConfig     = "/etc/crictl.yaml"
	ModulesLoad      = ModulesLoadDir + "/nodeup.conf"
	Sysctl           = SysctlDir + "/99-nodeup.conf"
	// KubeletSecretFlags holds the kubelet flags that carry a sensitive
	// value (0600), which the drop-in reads as an EnvironmentFile.
	KubeletSecretFlags = ConfigDir + "/kubelet-flags.env"
	// CredentialProviderConfig is the kubelet's CredentialProviderConfig
	// (--image-credential-provider-config), beside its other configuration.
	CredentialProviderConfig = "/etc/kubernetes/image-credential-provider-config.yaml"
)

// CredentialProviderBinDir holds the kubelet's credential provider
// binaries (--image-credential-provider-bin-dir), each named as its
// provider. It is nodeup's alone: the kubelet finds exactly the profile's
// providers there, off every user's PATH, and no provider name can clash
// with another binary.
const CredentialProviderBinDir = "/usr/local/lib/nodeup/credential-providers"

// Where the kernel's settings are read from at boot.
const (
	ModulesLoadDir = "/etc/modules-load.d"
	SysctlDir      = "/etc/sysctl.d"
)

// Files every pod sandbox needs from the host, and the hostname the
// kubelet names the node after.
const (
	Hosts      = "/etc/hosts"
	ResolvConf = "/etc/resolv.conf"
	Hostname   = "/etc/hostname"
)

// KubeletManifests is where a kubelet is usually told to find static pods.
const KubeletManifests = "/etc/kubernetes/manifests"

// The kubeconfigs kubeadm writes for the kubelet.
const (
	KubeletKubeconfig      = "/etc/kubernetes/kubelet.conf"
	KubeletBootstrapConfig = "/etc/kubernetes/bootstrap-kubelet.conf"
)

// The services nodeup writes units for, by name, and their unit files.
const (
	ContainerdService = "containerd.service"
	KubeletService    = "kubelet.service"
	ContainerdUnit    = UnitDir + "/" + ContainerdService
	KubeletUnit       = UnitDir + "/" + KubeletService
	// KubeletDropIn is the drop-in nodeup writes for a kubelet it does not
	// install (or does), with its flags and mode.
	KubeletDropIn = KubeletUnit + ".d/10-nodeup.conf"
	// The drop-ins that give containerd and the kubelet node.proxy, and
	// the environment file (0600: proxy URLs carry credentials) they read.
	ContainerdProxyDropIn = ContainerdUnit + ".d/10-nodeup-proxy.conf"
	KubeletProxyDropIn    = KubeletUnit + ".d/10-nodeup-proxy.conf"
	ProxyEnv              = ConfigDir + "/proxy.env"
	// kubelet.reserved's enforcement: the slice containerd and the kubelet
	// run in, the drop-ins that put them there, and the drop-in that has
	// systemd's slice of system services account what the kubelet caps.
	KubeSlice             = "kube.slice"
	SystemSlice           = "system.slice"
	KubeSliceUnit         = UnitDir + "/" + KubeSlice
	ContainerdSliceDropIn = ContainerdUnit + ".d/10-nodeup-slice.conf"
	KubeletSliceDropIn    = KubeletUnit + ".d/10-nodeup-slice.conf"
	SystemSliceDropIn     = UnitDir + "/" + SystemSlice + ".d/10-nodeup.conf"
)

// systemd's unit directories.
const (
	// UnitDir is where nodeup writes units and drop-ins, and where
	// enabling a unit makes its links.
	UnitDir = "/etc/systemd/system"
	// RuntimeUnitDir holds units for this boot only (and masks).
	RuntimeUnitDir = "/run/systemd/system"
	// SystemdRunning exists when systemd is PID 1.
	SystemdRunning = RuntimeUnitDir
)

// PackageUnitDirs are where distributions put packaged units, searched in
// systemd's order after UnitDir.
var PackageUnitDirs = []string{"/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

// nodeup's own files.
const (
	StateDir  = "/var/lib/nodeup"
	StateFile = StateDir + "/state.json"
	// StateKeyFile (0600) keys the marks state.json holds in place of the
	// sha256 of files only their owner may read.
	StateKeyFile = StateDir + "/state.key"
	BackupDir    = StateDir + "/backup"
	// RollbackDir holds copies of what an apply replaces of a running
	// unit's inputs, until the unit comes up verified on the new ones.
	RollbackDir = StateDir + "/rollback"
	// LastApplyFile says when the last apply ran and how it ended.
	LastApplyFile = StateDir + "/last-apply.json"
	CacheDir      = "/var/cache/nodeup"
	// StagedImagesDir holds the image archives an image build (--phase
	// bake) fetched for the boot to import once containerd runs, by sha256:
	// nodeup's state, not its download cache, so `cache clean` in the build
	// keeps them; the boot's import removes each.
	StagedImagesDir = StateDir + "/images"
	LockFile        = "/run/nodeup.lock"
	// ConfigDir holds what nodeup renders for the cluster (the
	// RuntimeClasses) and the profile an image keeps for its boot.
	ConfigDir  = "/etc/nodeup"
	ProfileDir = ConfigDir + "/profile.d"
)

// Where a Windows node keeps what nodeup renders, relative to its system
// drive: containerd's own directory, as its Windows build defaults to, and
// the kubelet's C:\var\lib\kubelet, as kubeadm sets it up.
const (
	WindowsDrive         = "C:"
	WindowsContainerdDir = "/Program Files/containerd"
	WindowsNodeupDir     = "/ProgramData/nodeup"
)

// InUnitDir is the path of a unit file or drop-in directory in UnitDir.
func InUnitDir(name string) string { return path.Join(UnitDir, name) }

// IsUnitFile reports whether node path p is a unit file or a drop-in that
// nodeup writes: a change to it needs a daemon-reload.
func IsUnitFile(p string) bool {
	dir := path.Dir(p)
	return dir == UnitDir || path.Dir(dir) == UnitDir
}

// writableRoots are the places nodeup writes files and trees under: its
// binaries, the CNI plugins and kata's tree (/opt), the rendered files, the
// units and nodeup's own. A profile may put CNI plugins or configuration
// elsewhere; what lies outside these is still never removed by reset,
// which works from a state file anyone with root may have edited.
var writableRoots = []string{
	"/usr/local", "/opt", "/etc/containerd", "/etc/cni", UnitDir, RuntimeUnitDir,
	"/var/lib/kubelet", "/etc/kubernetes", ConfigDir, StateDir,
}

// writableFiles are single files nodeup writes in a directory of others'.
var writableFiles = []string{CrictlConfig, ModulesLoad, Sysctl}

// Writable reports whether node path p is a place nodeup could have
// written a file or installed a tree: a clean absolute path strictly below
// one of writableRoots (never the directory itself), or one of
// writableFiles. Reset removes nothing else, whatever a state file lists.
func Writable(p string) bool {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return false
	}
	for _, f := range writableFiles {
		if p == f {
			return true
		}
	}
	for _, r := range writableRoots {
		if len(p) > len(r) && p[:len(r)] == r && p[len(r)] == '/' {
			return true
		}
	}
	return false
}

// Limits of a Linux path: a name (one component) of at most NameMax bytes,
// a whole path of fewer than PathMax.
const (
	NameMax = 255
	PathMax = 4096
)

// CheckLength reports, with what to do, a node path that no Linux
// filesystem could hold: a name longer than NameMax bytes, a path of
// PathMax bytes or more, or a NUL byte. An apply would fail on it half way.
func CheckLength(p string) error {
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("node path %q holds a NUL byte, which no file name can; remove it", p)
	}
	if len(p) >= PathMax {
		return fmt.Errorf("node path %.60q... is %d bytes long, and Linux takes paths of fewer than %d; use a shorter one", p, len(p), PathMax)
	}
	for _, name := range strings.Split(p, "/") {
		if len(name) > NameMax {
			return fmt.Errorf("the name %.60q... in node path %.80q... is %d bytes long, and a Linux file name holds at most %d; use a shorter one", name, p, len(name), NameMax)
		}
	}
	return nil
}
