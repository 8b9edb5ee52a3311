package templates

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/profile"
)

// One containerd version per schema, plus 2.0 for the CNI bin_dir case.
var schemaCases = []struct {
	version       string
	configVersion int
}{
	{"1.7.30", 2},
	{"2.0.7", 3},
	{"2.2.3", 3},
	{"2.3.4", 4},
}

// criRuntimeKeys is the path of the CRI runtime plugin's table per schema.
func criRuntimeKeys(configVersion int) []string {
	if configVersion == 2 {
		return []string{"plugins", criPluginV2}
	}
	return []string{"plugins", criRuntimePlugin}
}

func handlerKeys(configVersion int, handler string, keys ...string) []string {
	return append(append(criRuntimeKeys(configVersion), "containerd", "runtimes", handler), keys...)
}

func TestConfigVersionFor(t *testing.T) {
	for v, want := range map[string]int{"1.6.20": 2, "1.7.30": 2, "v2.0.0": 3, "2.1.6": 3, "2.2.9": 3, "2.3.0": 4, "2.4.2": 4} {
		if got, err := ConfigVersionFor(v); err != nil || got != want {
			t.Errorf("ConfigVersionFor(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	if _, err := ConfigVersionFor("latest"); err == nil {
		t.Error("ConfigVersionFor(latest): want an error")
	}
}

func TestSystemdCgroupFollowsNode(t *testing.T) {
	for _, c := range schemaCases {
		for _, driver := range []string{profile.CgroupSystemd, profile.CgroupCgroupfs} {
			t.Run(c.version+"/"+driver, func(t *testing.T) {
				p := exampleProfile(t, c.version)
				p.Node.CgroupDriver = driver
				tree := containerdTOML(t, p)
				if got := at(tree, "version"); got != int64(c.configVersion) {
					t.Errorf("version = %v, want %d", got, c.configVersion)
				}
				got := at(tree, handlerKeys(c.configVersion, "runc", "options", "SystemdCgroup")...)
				if got != (driver == profile.CgroupSystemd) {
					t.Errorf("runc SystemdCgroup = %v with cgroup_driver %s", got, driver)
				}
				if got := at(tree, handlerKeys(c.configVersion, "runc", "runtime_type")...); got != "io.containerd.runc.v2" {
					t.Errorf("runc runtime_type = %v", got)
				}
				if got := at(tree, append(criRuntimeKeys(c.configVersion), "containerd", "default_runtime_name")...); got != "runc" {
					t.Errorf("default_runtime_name = %v", got)
				}
			})
		}
	}
}

func TestRuncBinaryName(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	keys := handlerKeys(4, "runc", "options", "BinaryName")
	if got := at(containerdTOML(t, p), keys...); got != "/usr/local/sbin/runc" {
		t.Errorf("release runc: BinaryName = %v", got)
	}
	p.Runc.Source = profile.SourcePackage
	if got := at(containerdTOML(t, p), keys...); got != nil {
		t.Errorf("packaged runc: BinaryName = %v, want unset (found on PATH)", got)
	}
}

func TestKataHandler(t *testing.T) {
	for _, c := range schemaCases {
		t.Run(c.version, func(t *testing.T) {
			p := exampleProfile(t, c.version)
			p.Runtimes = append(p.Runtimes, profile.Runtime{Name: "kata-clh", Type: profile.RuntimeKata, Hypervisor: "clh"})
			tree := containerdTOML(t, p)
			for _, hv := range []string{"qemu", "clh"} {
				h := at(tree, handlerKeys(c.configVersion, "kata-"+hv)...)
				want := map[string]any{
					"runtime_type":                    "io.containerd.kata-" + hv + ".v2",
					"runtime_path":                    "/opt/kata/bin/containerd-shim-kata-v2",
					"privileged_without_host_devices": true,
					"pod_annotations":                 []any{"io.katacontainers.*"},
					"container_annotations":           []any{"io.katacontainers.*"},
					"options":                         map[string]any{"ConfigPath": "/opt/kata/share/defaults/kata-containers/configuration-" + hv + ".toml"},
				}
				if !reflect.DeepEqual(h, want) {
					t.Errorf("kata-%s handler:\n got %#v\nwant %#v", hv, h, want)
				}
			}
		})
	}
}

func TestCNIBinDirByVersion(t *testing.T) {
	for _, c := range []struct {
		version string
		key     string // the one of bin_dir / bin_dirs that must be set
		value   any
	}{
		{"1.7.30", "bin_dir", "/opt/cni/bin"},
		{"2.0.7", "bin_dir", "/opt/cni/bin"},
		{"2.1.6", "bin_dirs", []any{"/opt/cni/bin"}},
		{"2.2.3", "bin_dirs", []any{"/opt/cni/bin"}},
		{"2.3.4", "bin_dirs", []any{"/opt/cni/bin"}},
	} {
		t.Run(c.version, func(t *testing.T) {
			p := exampleProfile(t, c.version)
			cni, _ := at(containerdTOML(t, p), append(criRuntimeKeys(p.Containerd.ConfigVersion), "cni")...).(map[string]any)
			want := map[string]any{c.key: c.value, "conf_dir": "/etc/cni/net.d"}
			if !reflect.DeepEqual(cni, want) {
				t.Errorf("cni table = %#v, want %#v", cni, want)
			}
		})
	}
}

func TestSandboxImageAndRegistryLocation(t *testing.T) {
	for _, c := range schemaCases {
		t.Run(c.version, func(t *testing.T) {
			tree := containerdTOML(t, exampleProfile(t, c.version))
			var sandbox, configPath []string
			if c.configVersion == 2 {
				sandbox = []string{"plugins", criPluginV2, "sandbox_image"}
				configPath = []string{"plugins", criPluginV2, "registry", "config_path"}
			} else {
				sandbox = []string{"plugins", criImagesPlugin, "pinned_images", "sandbox"}
				configPath = []string{"plugins", criImagesPlugin, "registry", "config_path"}
				if got := at(tree, "plugins", criPluginV2); got != nil {
					t.Errorf("schema %d has a 1.x CRI table: %v", c.configVersion, got)
				}
			}
			if got := at(tree, sandbox...); got != "registry.k8s.io/pause:3.10" {
				t.Errorf("%s = %v", strings.Join(sandbox, "."), got)
			}
			if got := at(tree, configPath...); got != "/etc/containerd/certs.d" {
				t.Errorf("%s = %v", strings.Join(configPath, "."), got)
			}
		})
	}
}

func TestSocketAddress(t *testing.T) {
	for _, c := range schemaCases {
		t.Run(c.version, func(t *testing.T) {
			p := exampleProfile(t, c.version)
			p.Containerd.Socket = "/run/k8s/containerd.sock"
			tree := containerdTOML(t, p)
			if c.configVersion == 4 {
				if got := at(tree, "plugins", grpcServerPlugin, "address"); got != "/run/k8s/containerd.sock" {
					t.Errorf("grpc address = %v", got)
				}
				if got := at(tree, "plugins", ttrpcServerPlugin, "address"); got != "/run/k8s/containerd.sock.ttrpc" {
					t.Errorf("ttrpc address = %v", got)
				}
				if got := at(tree, "grpc"); got != nil {
					t.Errorf("schema 4 has a top-level grpc table: %v", got)
				}
			} else if got := at(tree, "grpc", "address"); got != "/run/k8s/containerd.sock" {
				t.Errorf("grpc.address = %v", got)
			}
		})
	}
}

func TestRawConfigMerge(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = `
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs"]
[plugins.'io.containerd.cri.v1.runtime']
  enable_unprivileged_ports = true
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
  NoNewKeyring = true
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.gvisor]
  runtime_type = "io.containerd.runsc.v1"
`
	tree := containerdTOML(t, p)
	runc := handlerKeys(4, "runc")
	for _, c := range []struct {
		keys []string
		want any
	}{
		// A new key lands next to the rendered ones in a merged table.
		{[]string{"plugins", criRuntimePlugin, "enable_unprivileged_ports"}, true},
		{append(runc, "options", "NoNewKeyring"), true},
		// Rendered siblings of merged keys survive.
		{append(runc, "options", "BinaryName"), "/usr/local/sbin/runc"},
		{append(runc, "runtime_type"), "io.containerd.runc.v2"},
		{handlerKeys(4, "kata-qemu", "runtime_path"), "/opt/kata/bin/containerd-shim-kata-v2"},
		{[]string{"plugins", criRuntimePlugin, "cni", "conf_dir"}, "/etc/cni/net.d"},
		// An owned key may repeat the value nodeup renders.
		{append(runc, "options", "SystemdCgroup"), true},
		// A handler nodeup does not render is the raw config's own.
		{handlerKeys(4, "gvisor", "runtime_type"), "io.containerd.runsc.v1"},
		// Keys nodeup does not own are replaced: the raw config has the last word.
		{[]string{"disabled_plugins"}, []any{"io.containerd.snapshotter.v1.btrfs"}},
	} {
		if got := at(tree, c.keys...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %#v, want %#v", strings.Join(c.keys, "."), got, c.want)
		}
	}
}

func TestMergeTOML(t *testing.T) {
	dst := map[string]any{
		"a": map[string]any{"b": int64(1), "c": map[string]any{"d": "x"}},
		"e": []any{"1", "2"},
		"f": map[string]any{"g": true},
	}
	src := map[string]any{
		"a": map[string]any{"c": map[string]any{"h": "y"}, "b": int64(2)},
		"e": []any{"3"},
		"f": "scalar over table",
		"i": map[string]any{"j": int64(5)},
	}
	MergeTOML(dst, src)
	want := map[string]any{
		"a": map[string]any{"b": int64(2), "c": map[string]any{"d": "x", "h": "y"}},
		"e": []any{"3"},
		"f": "scalar over table",
		"i": map[string]any{"j": int64(5)},
	}
	if !reflect.DeepEqual(dst, want) {
		t.Errorf("merged:\n got %#v\nwant %#v", dst, want)
	}
	// Tables are copied, so editing the result leaves src alone.
	dst["i"].(map[string]any)["k"] = 1
	if _, ok := src["i"].(map[string]any)["k"]; ok {
		t.Error("MergeTOML shares src's tables with dst")
	}
}

func TestCRIDisabled(t *testing.T) {
	for _, name := range []string{"cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images"} {
		t.Run(name, func(t *testing.T) {
			p := exampleProfile(t, "2.3.4")
			p.Containerd.RawConfig = fmt.Sprintf("version = 4\n\ndisabled_plugins = [\n  \"io.containerd.snapshotter.v1.zfs\",\n  %q,\n]\n", name)
			_, err := ContainerdConfig(p)
			var e *CRIDisabledError
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *CRIDisabledError", err)
			}
			if e.Plugin != name || e.Line != 5 {
				t.Errorf("CRIDisabledError = %+v, want plugin %q at line 5", e, name)
			}
		})
	}
	p := exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = `disabled_plugins = ["io.containerd.snapshotter.v1.zfs"]`
	if _, err := ContainerdConfig(p); err != nil {
		t.Errorf("disabling a snapshotter: %v", err)
	}
}

func TestRawConfigSyntaxError(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = "[plugins.'io.containerd.cri.v1.runtime']\n  enable_unprivileged_ports = true\n  max_container_log_line_size = \n"
	_, err := ContainerdConfig(p)
	var e *RawConfigError
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *RawConfigError", err)
	}
	if e.Line != 3 || e.Col == 0 || e.Msg == "" {
		t.Errorf("RawConfigError = %+v, want line 3 with a column and a message", e)
	}
}

func TestRawConfigVersion(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = "# same schema is fine\nversion = 4\n"
	if _, err := ContainerdConfig(p); err != nil {
		t.Errorf("raw version = 4 on config_version 4: %v", err)
	}
	p.Containerd.RawConfig = "# older schema\nversion = 2\n"
	_, err := ContainerdConfig(p)
	var e *RawConfigError
	if !errors.As(err, &e) || e.Line != 2 || !strings.Contains(e.Msg, "config_version") {
		t.Errorf("raw version = 2 on config_version 4: err = %v, want *RawConfigError at line 2", err)
	}
}

func TestUnsupportedConfigVersion(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Containerd.ConfigVersion = 1
	if _, err := ContainerdConfig(p); err == nil {
		t.Error("config_version 1: want an error")
	}
}

func TestContainerdConfigDeterministic(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	first, err := ContainerdConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := ContainerdConfig(p)
		if err != nil || string(again) != string(first) {
			t.Fatalf("second render differs (err %v):\n%s\n---\n%s", err, first, again)
		}
	}
}

// rawConfigCases are raw configs that each override one key a typed setting
// owns, in the schema of a config version; the offending key is on line 3.
func rawConfigCases(configVersion int) map[string]struct{ raw, owner string } {
	cri, images := "'io.containerd.cri.v1.runtime'", "'io.containerd.cri.v1.images'"
	socket := "[grpc]\n  address = \"/run/other.sock\""
	sandbox := fmt.Sprintf("[plugins.%s.pinned_images]\n  sandbox = \"registry.k8s.io/pause:3.9\"", images)
	binDir := "bin_dirs = [\"/usr/lib/cni\"]"
	if configVersion == 2 {
		cri = `"io.containerd.grpc.v1.cri"`
		sandbox = fmt.Sprintf("[plugins.%s]\n  sandbox_image = \"registry.k8s.io/pause:3.9\"", cri)
		binDir = "bin_dir = \"/usr/lib/cni\""
	}
	if configVersion == 4 {
		socket = "[plugins.'io.containerd.server.v1.grpc']\n  address = \"/run/other.sock\""
	}
	runtimes := fmt.Sprintf("plugins.%s.containerd.runtimes", cri)
	return map[string]struct{ raw, owner string }{
		"SystemdCgroup":        {fmt.Sprintf("[%s.runc.options]\n  SystemdCgroup = false", runtimes), "node.cgroup_driver"},
		"SystemdCgroup inline": {fmt.Sprintf("[plugins.%s.containerd]\n  runtimes = { runc = { options = { SystemdCgroup = false } } }", cri), "node.cgroup_driver"},
		"socket":               {socket, "containerd.socket"},
		"runtime_type":         {fmt.Sprintf("[%s.kata-qemu]\n  runtime_type = \"io.containerd.runc.v2\"", runtimes), `runtime "kata-qemu" type`},
		"runtimes wiped":       {fmt.Sprintf("[plugins.%s.containerd]\n  runtimes = []", cri), `runtime "runc" type`},
		"plugins wiped":        {"# every plugin\n\nplugins = 1", `runtime "runc" (default = true)`},
		"plugins array":        {"# every plugin\n\n[[plugins]]", `runtime "runc" (default = true)`},
		"value to table":       {fmt.Sprintf("[%s.runc.options]\n  [%s.runc.options.SystemdCgroup]", runtimes, runtimes), "node.cgroup_driver"},
		"cni bin_dir":          {fmt.Sprintf("[plugins.%s.cni]\n  %s", cri, binDir), "cni.bin_dir"},
		"cni conf_dir":         {fmt.Sprintf("[plugins.%s.cni]\n  conf_dir = \"/etc/cni/other\"", cri), "cni.conf_dir"},
		"sandbox image":        {sandbox, "containerd.sandbox_image"},
		"kata config":          {fmt.Sprintf("[%s.kata-qemu.options]\n  ConfigPath = \"/etc/kata/x.toml\"", runtimes), `runtime "kata-qemu" hypervisor`},
		"default":              {fmt.Sprintf("[plugins.%s.containerd]\n  default_runtime_name = \"kata-qemu\"", cri), `runtime "runc" (default = true)`},
	}
}

func TestRawConfigCannotOverrideOwnedKeys(t *testing.T) {
	for _, c := range schemaCases {
		for name, rc := range rawConfigCases(c.configVersion) {
			t.Run(c.version+"/"+name, func(t *testing.T) {
				p := exampleProfile(t, c.version)
				p.Containerd.RawConfig = "# raw\n" + rc.raw + "\n"
				if strings.HasPrefix(rc.raw, "#") {
					p.Containerd.RawConfig = rc.raw + "\n"
				}
				errs := CheckRawConfig(p)
				if len(errs) != 1 {
					t.Fatalf("CheckRawConfig = %v, want one *OwnedKeyError", errs)
				}
				var e *OwnedKeyError
				if !errors.As(errs[0], &e) {
					t.Fatalf("err = %v, want *OwnedKeyError", errs[0])
				}
				if e.Line != 3 || e.Owner != rc.owner {
					t.Errorf("OwnedKeyError at line %d naming %q, want line 3 naming %q: %v", e.Line, e.Owner, rc.owner, e)
				}
				if !strings.Contains(e.Error(), rc.owner) {
					t.Errorf("message does not name %s: %v", rc.owner, e)
				}
				if _, err := ContainerdConfig(p); !errors.As(err, &e) {
					t.Errorf("ContainerdConfig rendered an override: %v", err)
				}
			})
		}
	}
}

func TestRawConfigOwnedKeySameValue(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = `[plugins.'io.containerd.server.v1.grpc']
  address = "/run/containerd/containerd.sock"
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/opt/cni/bin"]
  conf_dir = "/etc/cni/net.d"
`
	if errs := CheckRawConfig(p); len(errs) > 0 {
		t.Errorf("repeating rendered values: %v", errs)
	}
	p.Node.CgroupDriver = profile.CgroupCgroupfs
	p.Containerd.RawConfig = "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n"
	errs := CheckRawConfig(p)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "SystemdCgroup = true contradicts node.cgroup_driver, from which nodeup renders false") {
		t.Errorf("SystemdCgroup = true under cgroupfs: %v", errs)
	}
}

// TestKataHypervisorTable renders a kata handler for every hypervisor of
// profile's table and checks the shim and configuration it points at
// against the kata static release's layout: the Go runtime under
// /opt/kata/bin, runtime-rs under /opt/kata/runtime-rs/bin with its
// configurations in .../kata-containers/runtime-rs.
func TestKataHypervisorTable(t *testing.T) {
	const (
		goShim     = "/opt/kata/bin/containerd-shim-kata-v2"
		rustShim   = "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"
		goConfigs  = "/opt/kata/share/defaults/kata-containers/"
		rustConfig = "/opt/kata/share/defaults/kata-containers/runtime-rs/"
	)
	want := map[string][2]string{
		"qemu":                     {goShim, goConfigs + "configuration-qemu.toml"},
		"clh":                      {goShim, goConfigs + "configuration-clh.toml"},
		"fc":                       {goShim, goConfigs + "configuration-fc.toml"},
		"stratovirt":               {goShim, goConfigs + "configuration-stratovirt.toml"},
		"qemu-tdx":                 {goShim, goConfigs + "configuration-qemu-tdx.toml"},
		"qemu-snp":                 {goShim, goConfigs + "configuration-qemu-snp.toml"},
		"qemu-se":                  {goShim, goConfigs + "configuration-qemu-se.toml"},
		"qemu-coco-dev":            {goShim, goConfigs + "configuration-qemu-coco-dev.toml"},
		"qemu-nvidia-gpu":          {goShim, goConfigs + "configuration-qemu-nvidia-gpu.toml"},
		"dragonball":               {rustShim, rustConfig + "configuration-dragonball.toml"},
		"qemu-runtime-rs":          {rustShim, rustConfig + "configuration-qemu-runtime-rs.toml"},
		"cloud-hypervisor":         {rustShim, rustConfig + "configuration-cloud-hypervisor.toml"},
		"clh-runtime-rs":           {rustShim, rustConfig + "configuration-clh-runtime-rs.toml"},
		"qemu-coco-dev-runtime-rs": {rustShim, rustConfig + "configuration-qemu-coco-dev-runtime-rs.toml"},
		"qemu-se-runtime-rs":       {rustShim, rustConfig + "configuration-qemu-se-runtime-rs.toml"},
		"qemu-snp-runtime-rs":      {rustShim, rustConfig + "configuration-qemu-snp-runtime-rs.toml"},
		"qemu-tdx-runtime-rs":      {rustShim, rustConfig + "configuration-qemu-tdx-runtime-rs.toml"},
		// Added in kata 3.32's release.
		"qemu-nvidia-gpu-snp":            {goShim, goConfigs + "configuration-qemu-nvidia-gpu-snp.toml"},
		"qemu-nvidia-gpu-tdx":            {goShim, goConfigs + "configuration-qemu-nvidia-gpu-tdx.toml"},
		"qemu-cca":                       {goShim, goConfigs + "configuration-qemu-cca.toml"},
		"remote":                         {goShim, goConfigs + "configuration-remote.toml"},
		"qemu-nvidia-gpu-runtime-rs":     {rustShim, rustConfig + "configuration-qemu-nvidia-gpu-runtime-rs.toml"},
		"qemu-nvidia-gpu-snp-runtime-rs": {rustShim, rustConfig + "configuration-qemu-nvidia-gpu-snp-runtime-rs.toml"},
		"qemu-nvidia-gpu-tdx-runtime-rs": {rustShim, rustConfig + "configuration-qemu-nvidia-gpu-tdx-runtime-rs.toml"},
		"clh-azure-runtime-rs":           {rustShim, rustConfig + "configuration-clh-azure-runtime-rs.toml"},
	}
	rows := profile.KataHypervisors()
	if len(rows) != len(want) {
		t.Errorf("the table has %d hypervisors, this test knows %d: give every row a case", len(rows), len(want))
	}
	for _, hv := range rows {
		t.Run(hv.Name, func(t *testing.T) {
			w, ok := want[hv.Name]
			if !ok {
				t.Fatalf("no expected layout for %s", hv.Name)
			}
			p := exampleProfile(t, "2.3.4")
			p.Runtimes = append(p.Runtimes, profile.Runtime{Name: "kata-x", Type: profile.RuntimeKata, Hypervisor: hv.Name})
			tree := containerdTOML(t, p)
			if got := at(tree, handlerKeys(4, "kata-x", "runtime_path")...); got != w[0] {
				t.Errorf("runtime_path = %v, want %s", got, w[0])
			}
			if got := at(tree, handlerKeys(4, "kata-x", "options", "ConfigPath")...); got != w[1] {
				t.Errorf("ConfigPath = %v, want %s", got, w[1])
			}
			if got := at(tree, handlerKeys(4, "kata-x", "runtime_type")...); got != "io.containerd.kata-"+hv.Name+".v2" {
				t.Errorf("runtime_type = %v", got)
			}
		})
	}
}

// On Windows the endpoint is containerd's default pipe: the raw config may
// not move it.
func TestRawConfigWindowsEndpoint(t *testing.T) {
	p := windowsProfile(t)
	p.Containerd.RawConfig = "[plugins.'io.containerd.server.v1.grpc']\n  address = '\\\\.\\pipe\\other'\n"
	errs := CheckRawConfig(p)
	var e *OwnedKeyError
	if len(errs) != 1 || !errors.As(errs[0], &e) || e.Line != 2 || !strings.Contains(e.Owner, `node.os = "windows"`) {
		t.Errorf("moving the Windows pipe: %v", errs)
	}
}

// Raw keys the target containerd would ignore or refuse are refused; the
// deprecated registry auth is a warning, and the config still renders.
func TestRawConfigUpstreamRules(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = "[plugins.'io.containerd.cri.v1.images'.registry.configs.\"r.internal\".auth]\n  username = \"u\"\n"
	errs := CheckRawConfig(p)
	var rule *RawRuleError
	if len(errs) != 1 || !errors.As(errs[0], &rule) || !rule.Warning || rule.Line != 1 || !strings.Contains(rule.Msg, "deprecated") {
		t.Fatalf("auth: %v", errs)
	}
	if _, err := ContainerdConfig(p); err != nil {
		t.Errorf("a warning stopped the render: %v", err)
	}

	// Schema 2 (containerd 1.7) reads none of 2.x's CRI plugins.
	p = exampleProfile(t, "1.7.30")
	p.Containerd.RawConfig = "[plugins.'io.containerd.cri.v1.runtime']\n  enable_unprivileged_ports = true\n"
	if errs := CheckRawConfig(p); len(errs) != 1 || !strings.Contains(errs[0].Error(), "has no plugin io.containerd.cri.v1.runtime") {
		t.Errorf("2.x plugin on 1.7: %v", errs)
	}
	// An extra runc handler that agrees with the node is fine.
	p = exampleProfile(t, "2.3.4")
	p.Containerd.RawConfig = "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.crun.options]\n  BinaryName = \"/usr/bin/crun\"\n  SystemdCgroup = true\n"
	if errs := CheckRawConfig(p); len(errs) != 0 {
		t.Errorf("agreeing runc handler: %v", errs)
	}
}
