package plan

import (
	"strings"

	"golang.org/x/mod/semver"
)

// The pause image each release expects: containerd's default sandbox image,
// and the one kubeadm's preflight checks the runtime for (it warns when
// containerd's differs).
var (
	containerdPause = []versionPause{{"v2.3.0", "3.10.2"}, {"v2.2.0", "3.10.1"}, {"", "3.10"}}
	kubeadmPause    = []versionPause{{"v1.36.0", "3.10.2"}, {"v1.34.0", "3.10.1"}, {"", "3.10"}}
)

// versionPause is the pause tag of the releases from since on.
type versionPause struct{ since, tag string }

// SandboxImageFor is the sandbox image a profile gets by default: the one
// kubeadm of the kubelet's version expects when the profile installs a
// kubelet (its node joins that cluster), else the one containerd's release
// expects. An unknown version gets DefaultSandboxImage.
func SandboxImageFor(containerdVersion, kubeletVersion string) string {
	if tag := pauseFor(kubeadmPause, kubeletVersion); tag != "" {
		return "registry.k8s.io/pause:" + tag
	}
	if tag := pauseFor(containerdPause, containerdVersion); tag != "" {
		return "registry.k8s.io/pause:" + tag
	}
	return DefaultSandboxImage
}

func pauseFor(table []versionPause, version string) string {
	v := "v" + strings.TrimPrefix(version, "v")
	if version == "" || !semver.IsValid(v) {
		return ""
	}
	for _, row := range table {
		if row.since == "" || semver.Compare(v, row.since) >= 0 {
			return row.tag
		}
	}
	return ""
}
