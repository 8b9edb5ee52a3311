package templates

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// The proxy's drop-ins parse as unit files and point at the environment
// file, which only its owner reads.
func TestProxyDropInAndMode(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Node.Proxy = &profile.Proxy{HTTP: "http://proxy:3128"}
	p.Kubelet.Declared = true
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		switch f.Path {
		case paths.ContainerdProxyDropIn, paths.KubeletProxyDropIn:
			opts, err := unit.DeserializeOptions(bytes.NewReader(f.Content))
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if len(opts) != 1 || opts[0].Section != "Service" || opts[0].Name != "EnvironmentFile" || opts[0].Value != paths.ProxyEnv {
				t.Errorf("%s: options %v, want [Service] EnvironmentFile=%s", f.Path, opts, paths.ProxyEnv)
			}
		case paths.ProxyEnv:
			if f.Mode != 0o600 {
				t.Errorf("%s is %04o, want 0600", f.Path, f.Mode)
			}
		default:
			continue
		}
		seen[f.Path] = true
	}
	if len(seen) != 3 {
		t.Errorf("rendered %v, want both drop-ins and the environment file", seen)
	}
}

// The environment file reads back as written, a password with the
// characters that need escapes included. systemd's double quotes escape
// the same characters as the shell's, so sh reads it as systemd does.
func TestProxyEnvReadsBack(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p := exampleProfile(t, "2.3.4")
	const http = "http://u:p$a`s\"s\\w@proxy:3128"
	p.Node.Proxy = &profile.Proxy{HTTP: http, HTTPS: "https://proxy:3129", NoProxy: []string{"10.0.0.0/8"}}
	p.Kubelet.Config = map[string]any{"clusterDomain": "cluster.local", "clusterDNS": []any{"10.96.0.10"}}
	env, err := ProxyEnv(p)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "proxy.env")
	if err := os.WriteFile(file, env, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "-c", `. "$1"; printf '%s\n' "$HTTP_PROXY" "$https_proxy" "$NO_PROXY"`, "sh", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := http + "\nhttps://proxy:3129\n10.0.0.0/8,localhost,127.0.0.1,::1,10.96.0.10,.svc,.cluster.local\n"
	if string(out) != want {
		t.Errorf("read back\n%s\nwant\n%s\nfrom\n%s", out, want, env)
	}
}

// no_proxy gains what the profile knows of the node and the cluster, once.
func TestNoProxy(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Node.Proxy = &profile.Proxy{HTTP: "http://proxy:3128", NoProxy: []string{"localhost", "10.0.0.0/8"}}
	p.Kubelet.Flags = []string{"--hostname-override=node-1", "--node-ip=192.168.1.10,fd00::10"}
	p.Kubelet.Config = map[string]any{"podCIDR": "10.244.1.0/24"}
	p.CNI.Networks = []profile.CNINetwork{{Name: "10-bridge.conflist", Config: `{"plugins":[{"type":"bridge","ipam":{"type":"host-local","subnet":"10.244.1.0/24","ranges":[[{"subnet":"fd00:244::/64"}]]}}]}`}}
	got := strings.Join(NoProxy(p), ",")
	want := "localhost,10.0.0.0/8,127.0.0.1,::1,node-1,192.168.1.10,fd00::10,10.244.1.0/24,fd00:244::/64"
	if got != want {
		t.Errorf("no_proxy = %s\nwant       %s", got, want)
	}
}
