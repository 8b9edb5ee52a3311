package templates

import (
	"testing"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/nodeup/nodeup/profile"
)

// rawConfigFor is a raw containerd config that sets one CRI option in the
// schema a config version uses, as a user would write it.
func rawConfigFor(configVersion int) string {
	if configVersion == 2 {
		return "[plugins.\"io.containerd.grpc.v1.cri\"]\n  enable_unprivileged_ports = true\n"
	}
	return "[plugins.'io.containerd.cri.v1.runtime']\n  enable_unprivileged_ports = true\n"
}

// exampleProfile is modelled on the README's example profile ("A profile"), decoded, for the
// given containerd version (its config version derived as plan does).
func exampleProfile(t testing.TB, containerdVersion string) *profile.Profile {
	t.Helper()
	cv, err := ConfigVersionFor(containerdVersion)
	if err != nil {
		t.Fatal(err)
	}
	release := func(v string) profile.Component {
		return profile.Component{Version: v, Source: profile.SourceRelease, URL: "https://example.invalid/" + v, SHA256: "0000000000000000000000000000000000000000000000000000000000000000"}
	}
	runc, crictl, kata := release("1.4.3"), release("1.34.0"), release("3.32.0")
	return &profile.Profile{
		Files: []string{"profile.hcl"},
		Node: profile.Node{
			CgroupDriver:  profile.CgroupSystemd,
			Arch:          "amd64",
			OS:            profile.OSLinux,
			KernelModules: []string{"overlay", "br_netfilter"},
			Sysctl: map[string]string{
				"net.ipv4.ip_forward":                 "1",
				"net.bridge.bridge-nf-call-iptables":  "1",
				"net.bridge.bridge-nf-call-ip6tables": "1",
			},
		},
		Mirror: profile.Mirror{URLs: []string{"http://10.0.0.5/nodeup", "file:///srv/nodeup"}, Upstream: true},
		Containerd: profile.Containerd{
			Component:     release(containerdVersion),
			Socket:        "/run/containerd/containerd.sock",
			SandboxImage:  "registry.k8s.io/pause:3.10",
			ConfigVersion: cv,
			Registries: []profile.Registry{{
				Host:    "docker.io",
				Mirrors: []string{"https://mirror.internal:5000"},
			}},
			RawConfig: rawConfigFor(cv),
		},
		Runc:   &runc,
		Crictl: &crictl,
		Kata:   &kata,
		CNI: &profile.CNI{
			Component: release("1.9.1"),
			BinDir:    "/opt/cni/bin",
			ConfDir:   "/etc/cni/net.d",
			Plugins:   []string{"loopback", "bridge", "host-local", "portmap"},
		},
		Runtimes: []profile.Runtime{
			{Name: "runc", Type: profile.RuntimeRunc, Default: true},
			{Name: "kata-qemu", Type: profile.RuntimeKata, Hypervisor: "qemu",
				Overhead: map[string]string{"cpu": "250m", "memory": "160Mi"}},
		},
		Kubelet: profile.Kubelet{
			Declared:  true,
			Component: release("1.34.11"),
			Config: map[string]any{
				"clusterDNS":    []any{"10.96.0.10"},
				"clusterDomain": "cluster.local",
				"maxPods":       110,
			},
			Flags: []string{"--node-labels=role=worker"},
		},
		Verify: profile.Verify{Timeout: 60 * time.Second, Handlers: []string{"runc", "kata-qemu"}},
	}
}

// containerdTOML renders p's config.toml and parses it back.
func containerdTOML(t *testing.T, p *profile.Profile) map[string]any {
	t.Helper()
	out, err := ContainerdConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]any{}
	if err := toml.Unmarshal(out, &tree); err != nil {
		t.Fatalf("rendered config is not TOML: %v\n%s", err, out)
	}
	return tree
}

// at walks a parsed TOML tree along keys; nil when a key is missing.
func at(tree map[string]any, keys ...string) any { return Lookup(tree, keys...) }

// windowsProfile is the example profile for a Windows node: its runtime is
// runhcs, its CNI directories are containerd's Windows defaults, and it has
// neither runc nor kata.
func windowsProfile(t testing.TB) *profile.Profile {
	p := exampleProfile(t, "2.3.4")
	p.Node.OS = profile.OSWindows
	p.Runc, p.Kata = nil, nil
	p.Containerd.RawConfig = ""
	p.Runtimes = []profile.Runtime{{Name: "runhcs-wcow-process", Type: profile.RuntimeRunhcs, Default: true}}
	p.Verify.Handlers = []string{"runhcs-wcow-process"}
	p.CNI.BinDir = `C:\Program Files\containerd\cni\bin`
	p.CNI.ConfDir = `C:\Program Files\containerd\cni\conf`
	return p
}
