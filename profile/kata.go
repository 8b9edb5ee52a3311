package profile

import (
	"strings"

	"golang.org/x/mod/semver"

	"github.com/nodeup/nodeup/node/paths"
)

// KataHypervisor is one value of runtime.hypervisor: a kata "shim" as the
// kata static release lays it out under paths.KataDir. The Go runtime's shim and
// configurations sit in /opt/kata/bin and share/defaults/kata-containers;
// the Rust runtime (runtime-rs) has its own shim in /opt/kata/runtime-rs/bin
// and its configurations in share/defaults/kata-containers/runtime-rs.
type KataHypervisor struct {
	Name      string
	RuntimeRS bool // served by runtime-rs, not the Go runtime
	// Since and Before bound the kata releases that ship it ("" = unbounded).
	Since, Before string
}

// kataHypervisors is every hypervisor nodeup renders a kata handler for.
// Each has configuration-NAME.toml in its runtime's configuration directory.
var kataHypervisors = []KataHypervisor{
	{Name: "qemu"},
	{Name: "clh"},
	{Name: "fc"},
	{Name: "stratovirt"},
	{Name: "qemu-tdx"},
	{Name: "qemu-snp"},
	{Name: "qemu-se"},
	{Name: "qemu-coco-dev"},
	{Name: "qemu-nvidia-gpu"},
	{Name: "qemu-nvidia-gpu-snp"},
	{Name: "qemu-nvidia-gpu-tdx"},
	{Name: "qemu-cca"},
	// remote: peer pods, a VM created by the cloud-api-adaptor.
	{Name: "remote"},
	{Name: "dragonball", RuntimeRS: true},
	{Name: "qemu-runtime-rs", RuntimeRS: true},
	// kata 3.30 renamed runtime-rs's Cloud Hypervisor configuration.
	{Name: "cloud-hypervisor", RuntimeRS: true, Before: "3.30.0"},
	{Name: "clh-runtime-rs", RuntimeRS: true, Since: "3.30.0"},
	{Name: "qemu-coco-dev-runtime-rs", RuntimeRS: true},
	{Name: "qemu-se-runtime-rs", RuntimeRS: true},
	{Name: "qemu-snp-runtime-rs", RuntimeRS: true},
	{Name: "qemu-tdx-runtime-rs", RuntimeRS: true},
	{Name: "qemu-nvidia-gpu-runtime-rs", RuntimeRS: true},
	{Name: "qemu-nvidia-gpu-snp-runtime-rs", RuntimeRS: true},
	{Name: "qemu-nvidia-gpu-tdx-runtime-rs", RuntimeRS: true},
	{Name: "clh-azure-runtime-rs", RuntimeRS: true},
}

// kataAliases are names operators write for a hypervisor that kata names
// otherwise.
var kataAliases = map[string]string{
	"firecracker":           "fc",
	"cloudhypervisor":       "clh",
	"qemu-nvidia":           "qemu-nvidia-gpu",
	"dragonball-runtime-rs": "dragonball",
}

// SuggestKataHypervisor is the hypervisor an unknown name most likely
// means, or "".
func SuggestKataHypervisor(name string) string {
	if s, ok := kataAliases[strings.ToLower(name)]; ok {
		return s
	}
	return ""
}

// BlockDeviceOnly reports whether the hypervisor can take a container's
// root filesystem only as a block device (no virtio-fs), so its handler
// needs a block-device snapshotter such as devmapper.
func (h KataHypervisor) BlockDeviceOnly() bool { return h.Name == "fc" }

// KataHypervisors returns the table of hypervisors, in a stable order.
func KataHypervisors() []KataHypervisor { return append([]KataHypervisor(nil), kataHypervisors...) }

// LookupKataHypervisor finds a hypervisor by name.
func LookupKataHypervisor(name string) (KataHypervisor, bool) {
	for _, h := range kataHypervisors {
		if h.Name == name {
			return h, true
		}
	}
	return KataHypervisor{}, false
}

// ShimPath is the containerd shim that serves the hypervisor.
func (h KataHypervisor) ShimPath() string {
	if h.RuntimeRS {
		return paths.KataRustShim
	}
	return paths.KataShim
}

// ConfigPath is the kata configuration file the shim is pointed at.
func (h KataHypervisor) ConfigPath() string {
	dir := paths.KataConfigDir
	if h.RuntimeRS {
		dir = paths.KataRustConfigDir
	}
	return dir + "/configuration-" + h.Name + ".toml"
}

// ShippedIn reports whether kata release version ships the hypervisor;
// a version that is not a release version is given the benefit of the doubt.
func (h KataHypervisor) ShippedIn(version string) bool {
	v := "v" + strings.TrimPrefix(version, "v")
	if !semver.IsValid(v) {
		return true
	}
	if h.Since != "" && semver.Compare(v, "v"+h.Since) < 0 {
		return false
	}
	return h.Before == "" || semver.Compare(v, "v"+h.Before) < 0
}
