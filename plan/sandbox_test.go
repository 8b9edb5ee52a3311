package plan

import "testing"

// The default sandbox image follows the releases: kubeadm's expectation
// when the profile installs a kubelet, else containerd's own default.
func TestSandboxImageFor(t *testing.T) {
	for _, c := range []struct{ containerd, kubelet, want string }{
		{"1.7.30", "", "registry.k8s.io/pause:3.10"},
		{"2.1.6", "", "registry.k8s.io/pause:3.10"},
		{"2.2.1", "", "registry.k8s.io/pause:3.10.1"},
		{"2.3.4", "", "registry.k8s.io/pause:3.10.2"},
		{"2.4.2", "", "registry.k8s.io/pause:3.10.2"},
		{"2.3.4", "1.33.5", "registry.k8s.io/pause:3.10"},
		{"2.3.4", "1.34.11", "registry.k8s.io/pause:3.10.1"},
		{"1.7.30", "1.35.0", "registry.k8s.io/pause:3.10.1"},
		{"2.2.1", "1.36.4", "registry.k8s.io/pause:3.10.2"},
		{"", "", DefaultSandboxImage},
		{"main", "", DefaultSandboxImage},
	} {
		if got := SandboxImageFor(c.containerd, c.kubelet); got != c.want {
			t.Errorf("containerd %q, kubelet %q: %s, want %s", c.containerd, c.kubelet, got, c.want)
		}
	}
}
