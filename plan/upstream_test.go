package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/templates"
)

// containerd runs loopback in every pod sandbox: a plugin list without it
// gets it, so it is installed and verified like the others.
func TestCNIPluginsAlwaysHaveLoopback(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", "containerd { version = \"2.3.4\" }\nrunc { version = \"1.4.3\" }\ncni {\n  version = \"1.9.1\"\n  plugins = [\"bridge\"]\n}\n")
	loaded, diags := load(t, path, Options{HostArch: "amd64"})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	if got := loaded.Profile.CNI.Plugins; !slices.Equal(got, []string{"bridge", "loopback"}) {
		t.Errorf("plugins %v", got)
	}
	g, err := Build(loaded.Profile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(g.Text(), "; 2 CNI plugins") {
		t.Errorf("loopback is not verified:\n%s", g.Text())
	}
}

// containerd 1.x beside a kubelet that deprecates it is a warning.
func TestContainerd1WithKubelet136Warns(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", "containerd {\n  version = \"1.7.30\"\n  sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n}\nrunc { version = \"1.4.3\" }\nkubelet {\n  version = \"1.36.4\"\n  sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n}\n")
	loaded, diags := load(t, path, Options{HostArch: "amd64"})
	if diags.HasErrors() || loaded.Profile == nil {
		t.Fatal(diagText(diags))
	}
	if !strings.Contains(diagText(diags), "containerd 1.x is deprecated by this kubelet") {
		t.Errorf("no warning:\n%s", diagText(diags))
	}
}

// fc takes root filesystems as block devices only: without a snapshotter
// for it, a warning.
func TestFirecrackerWithoutSnapshotterWarns(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", "containerd { version = \"2.3.4\" }\nrunc { version = \"1.4.3\" }\nkata { version = \"3.32.0\" }\nruntime \"runc\" {\n  default = true\n}\nruntime \"kata-fc\" {\n  type = \"kata\"\n  hypervisor = \"fc\"\n}\n")
	_, diags := load(t, path, Options{HostArch: "amd64"})
	if diags.HasErrors() || !strings.Contains(diagText(diags), "Firecracker without a block-device snapshotter") {
		t.Errorf("diagnostics:\n%s", diagText(diags))
	}
}

// The runtime's own snapshotter is the fix the warning names.
func TestFirecrackerWithSnapshotter(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", "containerd { version = \"2.3.4\" }\nrunc { version = \"1.4.3\" }\nkata { version = \"3.32.0\" }\nruntime \"runc\" {\n  default = true\n}\nruntime \"kata-fc\" {\n  type = \"kata\"\n  hypervisor = \"fc\"\n  snapshotter = \"devmapper\"\n}\n")
	loaded, diags := load(t, path, Options{HostArch: "amd64"})
	if diags.HasErrors() || strings.Contains(diagText(diags), "Firecracker without") {
		t.Fatalf("diagnostics:\n%s", diagText(diags))
	}
	out, err := templates.ContainerdConfig(loaded.Profile)
	_, fc, _ := strings.Cut(string(out), "runtimes.kata-fc]\n")
	if err != nil || !strings.Contains(fc, "\n          snapshotter = 'devmapper'\n") {
		t.Errorf("config.toml (%v):\n%s", err, out)
	}
}
