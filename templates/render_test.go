package templates

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// renderCases are a profile modelled on the README's example on each config schema, and
// variants that change which files exist. (Their rendered bytes are
// checked by plan's golden cases, which start from HCL.)
func renderCases(t *testing.T) map[string]*profile.Profile {
	cases := map[string]*profile.Profile{}
	for _, v := range []string{"1.7.30", "2.0.7", "2.2.3", "2.3.4"} {
		cases["containerd-"+v] = exampleProfile(t, v)
	}

	// Distribution packages, the cgroupfs driver, no kubelet block, no crictl.
	p := exampleProfile(t, "2.3.4")
	p.Node.CgroupDriver = profile.CgroupCgroupfs
	p.Containerd.Source = profile.SourcePackage
	p.Containerd.Registries = nil
	p.Containerd.RawConfig = ""
	p.Runc.Source = profile.SourcePackage
	p.Crictl = nil
	p.Kubelet = profile.Kubelet{}
	cases["cgroupfs-package"] = p

	cases["windows"] = windowsProfile(t)
	return cases
}

func TestRenderFiles(t *testing.T) {
	cases := renderCases(t)
	for name, want := range map[string][]string{
		"containerd-2.3.4": {
			"/etc/containerd/certs.d/docker.io/hosts.toml",
			"/etc/containerd/config.toml",
			"/etc/crictl.yaml",
			// kubeadm mode: kubeadm owns /var/lib/kubelet/config.yaml.
			"/etc/kubernetes/kubelet.conf.d/50-nodeup.conf",
			"/etc/modules-load.d/nodeup.conf",
			"/etc/nodeup/runtimeclasses.yaml",
			"/etc/sysctl.d/99-nodeup.conf",
			"/etc/systemd/system/containerd.service",
			"/etc/systemd/system/kubelet.service",
			"/etc/systemd/system/kubelet.service.d/10-nodeup.conf",
		},
		// The packaged containerd brings its unit; no kubelet block, no units for it.
		"cgroupfs-package": {
			"/etc/containerd/config.toml",
			"/etc/kubernetes/kubelet.conf.d/50-nodeup.conf",
			"/etc/modules-load.d/nodeup.conf",
			"/etc/nodeup/runtimeclasses.yaml",
			"/etc/sysctl.d/99-nodeup.conf",
		},
		// Windows paths, relative to the system drive; no units, no crictl.yaml.
		"windows": {
			"/Program Files/containerd/certs.d/docker.io/hosts.toml",
			"/Program Files/containerd/config.toml",
			"/ProgramData/nodeup/runtimeclasses.yaml",
			"/var/lib/kubelet/config.yaml",
		},
	} {
		files, err := Render(cases[name])
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range files {
			got = append(got, f.Path)
			if f.Mode != 0o644 {
				t.Errorf("%s: %s has mode %v", name, f.Path, f.Mode)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: files\n got %q\nwant %q", name, got, want)
		}
	}
}

func TestRenderWindowsShape(t *testing.T) {
	p := renderCases(t)["windows"]
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.Path] = f.Content
	}
	kubelet := string(byPath[paths.KubeletConfig])
	for _, want := range []string{"containerRuntimeEndpoint: npipe://./pipe/containerd-containerd", "cgroupsPerQOS: false", "enforceNodeAllocatable:\n- none"} {
		if !strings.Contains(kubelet, want) {
			t.Errorf("kubelet config lacks %q:\n%s", want, kubelet)
		}
	}
	if strings.Contains(kubelet, "cgroupDriver") || strings.Contains(kubelet, "unix://") {
		t.Errorf("kubelet config of a Windows node has a cgroup driver or a unix socket:\n%s", kubelet)
	}

	config := containerdTOML(t, p)
	handler := handlerKeys(4, "runhcs-wcow-process")
	for keys, want := range map[string]any{
		strings.Join(append(handler, "runtime_type"), "/"):                                 "io.containerd.runhcs.v1",
		strings.Join(append(criRuntimeKeys(4), "containerd", "default_runtime_name"), "/"): "runhcs-wcow-process",
		strings.Join([]string{"plugins", criImagesPlugin, "registry", "config_path"}, "/"): `C:\Program Files\containerd\certs.d`,
		strings.Join(append(criRuntimeKeys(4), "cni", "conf_dir"), "/"):                    `C:\Program Files\containerd\cni\conf`,
		strings.Join([]string{"plugins", grpcServerPlugin}, "/"):                           nil,
		strings.Join(append(handler, "options"), "/"):                                      nil,
	} {
		if got := at(config, strings.Split(keys, "/")...); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", keys, got, want)
		}
	}

	// A Linux runtime on a Windows node is refused, not rendered in Linux shape.
	p.Runtimes = append(p.Runtimes, profile.Runtime{Name: "runc", Type: profile.RuntimeRunc})
	if _, err := ContainerdConfig(p); err == nil || !strings.Contains(err.Error(), "windows nodes do not run") {
		t.Errorf("runc on Windows: err = %v", err)
	}
}

func TestRenderReportsEveryError(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = `disabled_plugins = ["cri"]`
	p.Kubelet.Config = map[string]any{"maxPod": 1}
	_, err := Render(p)
	var cri *CRIDisabledError
	var unknown *UnknownFieldError
	if !errors.As(err, &cri) || !errors.As(err, &unknown) {
		t.Errorf("err = %v, want both a CRIDisabledError and an UnknownFieldError", err)
	}
}
