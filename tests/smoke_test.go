// Package tests holds nodeup's end-to-end tests: they boot real systemd nodes with the
// testbed package and check them with an independent CRI client (crictl).
package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/tests/testbed"
)

// containerdUnit is the minimal containerd unit. Limits such as
// LimitNOFILE=infinity or OOMScoreAdjust=-999 are left out: they need capabilities a
// nspawn node does not have.
const containerdUnit = `[Unit]
Description=containerd container runtime
After=network.target local-fs.target

[Service]
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`

// Minimal configs in each release's own schema, runc with the systemd cgroup driver.
const (
	configV4 = `version = 4

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = '/usr/local/sbin/runc'
  SystemdCgroup = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ['/opt/cni/bin']
  conf_dir = '/etc/cni/net.d'
`
	configV2 = `version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "/usr/local/sbin/runc"
  SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/opt/cni/bin"
  conf_dir = "/etc/cni/net.d"
`
)

// TestSmokeContainerd installs containerd, runc and the CNI plugins from the mirror's
// archives by hand (no nodeup), starts containerd under the node's systemd, and checks it
// over CRI with crictl from the host: the test bed itself works end to end.
func TestSmokeContainerd(t *testing.T) {
	manifest := testbed.ReadManifest(t)
	crictl := testbed.CrictlPath(t)
	for _, tc := range []struct {
		version, config string
		// runtimeConfig: containerd >= 2.0 implements the CRI RuntimeConfig call.
		runtimeConfig bool
	}{
		{"2.3.4", configV4, true},
		{"1.7.30", configV2, false},
	} {
		t.Run("containerd-"+tc.version, func(t *testing.T) {
			n := testbed.Boot(t, testbed.Options{})

			testbed.Extract(t, manifest.Get(t, "containerd", tc.version).File, n.Path("/usr/local"))
			testbed.Extract(t, manifest.Get(t, "cni", "").File, n.Path("/opt/cni/bin"))
			if err := n.CopyIn(manifest.Get(t, "runc", "").File, "/usr/local/sbin/runc"); err != nil {
				t.Fatal(err)
			}
			for p, data := range map[string]string{
				"/etc/systemd/system/containerd.service": containerdUnit,
				"/etc/containerd/config.toml":            tc.config,
			} {
				if err := n.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			n.Run(t, "chmod", "0755", "/usr/local/sbin/runc")
			n.Run(t, "systemctl", "enable", "--now", "containerd")
			if got := strings.TrimSpace(n.Run(t, "systemctl", "is-active", "containerd")); got != "active" {
				t.Fatalf("containerd is %q", got)
			}
			// CNI plugins print their version on stderr.
			if r := n.Exec("/opt/cni/bin/loopback", "--version"); !strings.Contains(r.Stderr, "CNI loopback plugin v1.9.1") {
				t.Errorf("CNI loopback --version: %s", r)
			}

			cri := crictlAt(t, crictl, "unix://"+n.Path("/run/containerd/containerd.sock"))
			version := fields(cri.run(t, "version"))
			// The mirror's containerd is stamped like a release build: "v" + version.
			if version["RuntimeName"] != "containerd" || version["RuntimeVersion"] != "v"+tc.version {
				t.Errorf("CRI Version: runtime %q %q, want containerd v%s", version["RuntimeName"], version["RuntimeVersion"], tc.version)
			}

			var info struct {
				Status struct {
					Conditions []struct {
						Type   string
						Status bool
					}
				}
				Config struct {
					Containerd struct {
						Runtimes map[string]struct {
							Options map[string]any
						}
					}
				}
			}
			cri.json(t, &info, "info")
			if !condition(info.Status.Conditions, "RuntimeReady") {
				t.Errorf("CRI Status: RuntimeReady is not true: %+v", info.Status.Conditions)
			}
			// Proves containerd read our config.toml rather than its defaults.
			if got := info.Config.Containerd.Runtimes["runc"].Options["SystemdCgroup"]; got != true {
				t.Errorf("CRI Status config: runc SystemdCgroup = %v, want true", got)
			}

			if tc.runtimeConfig {
				if got := fields(cri.run(t, "runtime-config"))["cgroup driver"]; got != "SYSTEMD" {
					t.Errorf("CRI RuntimeConfig: cgroup driver %q, want SYSTEMD", got)
				}
			}
		})
	}
}

func condition(conds []struct {
	Type   string
	Status bool
}, typ string) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status
		}
	}
	return false
}

// crictlCmd runs the host's crictl against one CRI endpoint.
type crictlCmd struct{ path, endpoint, config string }

func crictlAt(t *testing.T, path, endpoint string) crictlCmd {
	// An empty config file: the host has no /etc/crictl.yaml, and crictl warns without one.
	config := filepath.Join(t.TempDir(), "crictl.yaml")
	if err := os.WriteFile(config, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return crictlCmd{path, endpoint, config}
}

// run runs crictl with args and returns its stdout.
func (c crictlCmd) run(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"--config", c.config, "--runtime-endpoint", c.endpoint,
		"--image-endpoint", c.endpoint, "--timeout", "20s"}, args...)
	cmd := exec.Command(c.path, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crictl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// json runs crictl with args (a command whose default output is JSON) and decodes its
// output into v.
func (c crictlCmd) json(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.run(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("crictl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fields parses crictl's "Key:  value" lines (version, runtime-config) into a map.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}
