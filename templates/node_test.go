package templates

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	nodev1 "k8s.io/api/node/v1"
	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/profile"
)

func TestRuntimeClassOverhead(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	out, err := RuntimeClassesYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "---\n")[1:]
	if len(docs) != 2 {
		t.Fatalf("want 2 documents, got %d:\n%s", len(docs), out)
	}
	var classes []nodev1.RuntimeClass
	for _, d := range docs {
		var rc nodev1.RuntimeClass
		if err := yaml.UnmarshalStrict([]byte(d), &rc); err != nil {
			t.Fatalf("%v in\n%s", err, d)
		}
		classes = append(classes, rc)
	}
	for i, want := range []string{"runc", "kata-qemu"} {
		rc := classes[i]
		if rc.Name != want || rc.Handler != want || rc.Kind != "RuntimeClass" || rc.APIVersion != "node.k8s.io/v1" {
			t.Errorf("class %d = %s/%s %s handler %s", i, rc.APIVersion, rc.Kind, rc.Name, rc.Handler)
		}
	}
	if classes[0].Overhead != nil {
		t.Errorf("runc overhead = %v, want none", classes[0].Overhead)
	}
	o := classes[1].Overhead
	if o == nil || o.PodFixed.Cpu().String() != "250m" || o.PodFixed.Memory().String() != "160Mi" || len(o.PodFixed) != 2 {
		t.Errorf("kata-qemu overhead = %v, want cpu 250m, memory 160Mi", o)
	}

	p.Runtimes[1].Overhead["memory"] = "lots"
	if _, err := RuntimeClassesYAML(p); err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf("bad quantity: err = %v", err)
	}
}

func TestHostsTOML(t *testing.T) {
	for _, c := range []struct {
		reg  profile.Registry
		want string
	}{
		{profile.Registry{Host: "docker.io", Mirrors: []string{"https://mirror.internal:5000"}},
			"server = 'https://registry-1.docker.io'\n\n[host.'https://mirror.internal:5000']\ncapabilities = ['pull', 'resolve']\n"},
		// Mirrors keep the profile's order (containerd tries them in file order).
		{profile.Registry{Host: "registry.k8s.io:443", Mirrors: []string{"https://z.internal", "http://a.internal:5000"}, HostSettings: profile.HostSettings{SkipVerify: true}},
			"server = 'https://registry.k8s.io:443'\nskip_verify = true\n\n" +
				"[host.'https://z.internal']\ncapabilities = ['pull', 'resolve']\nskip_verify = true\n\n" +
				"[host.'http://a.internal:5000']\ncapabilities = ['pull', 'resolve']\nskip_verify = true\n"},
		{profile.Registry{Host: "quay.io"}, "server = 'https://quay.io'\n"},
		// skip_verify holds for the registry itself too, mirrors or not (a
		// registry with a self-signed certificate serving the sandbox image).
		{profile.Registry{Host: "registry.internal:5000", HostSettings: profile.HostSettings{SkipVerify: true}}, "server = 'https://registry.internal:5000'\nskip_verify = true\n"},
		{profile.Registry{Host: "_default", HostSettings: profile.HostSettings{SkipVerify: true}}, "skip_verify = true\n"},
		// _default stands for every registry: no server of its own, so a pull
		// falls back to the registry it names.
		{profile.Registry{Host: "_default", Mirrors: []string{"https://mirror.internal:5000"}},
			"[host.'https://mirror.internal:5000']\ncapabilities = ['pull', 'resolve']\n"},
	} {
		out, _, err := registryFiles(c.reg)
		if err != nil {
			t.Fatal(err)
		}
		body := strings.TrimPrefix(string(out), "# "+header+"\n\n")
		if body != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.reg.Host, body, c.want)
		}
	}
	if got := HostsTOMLPath(exampleProfile(t, "2.3.4").Layout(), "docker.io"); got != "/etc/containerd/certs.d/docker.io/hosts.toml" {
		t.Errorf("HostsTOMLPath = %s", got)
	}
}

// TestRegistryFiles: each host's certificate lands beside hosts.toml under
// a name of its own, even for two URLs of one host; keys are 0600.
func TestRegistryFiles(t *testing.T) {
	ca := profile.HostSettings{CA: "CA PEM"}
	r := profile.Registry{Host: "r.internal", Server: "http://r.internal:5000",
		HostSettings: profile.HostSettings{ClientCert: "CERT PEM", ClientKey: "KEY PEM"},
		Hosts:        []profile.RegistryHost{{URL: "https://m.internal", HostSettings: ca}, {URL: "http://m.internal", HostSettings: ca}}}
	files, err := RegistryFiles("/d", r)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = fmt.Sprintf("%o %s", f.Mode, f.Content)
	}
	want := map[string]string{
		"/d/client.cert":         "644 CERT PEM",
		"/d/client.key":          "600 KEY PEM",
		"/d/m.internal.ca.crt":   "644 CA PEM",
		"/d/m.internal-2.ca.crt": "644 CA PEM",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s = %q, want %q", p, got[p], w)
		}
	}
	hosts := got["/d/hosts.toml"]
	for _, w := range []string{"server = 'http://r.internal:5000'\nclient = [['client.cert', 'client.key']]\n",
		"[host.'https://m.internal']\ncapabilities = ['pull', 'resolve']\nca = 'm.internal.ca.crt'\n",
		"[host.'http://m.internal']\ncapabilities = ['pull', 'resolve']\nca = 'm.internal-2.ca.crt'\n"} {
		if !strings.Contains(hosts, w) {
			t.Errorf("hosts.toml lacks %q:\n%s", w, hosts)
		}
	}
	if len(files) != 5 {
		t.Errorf("%d files, want 5", len(files))
	}
}

func TestModulesAndSysctl(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	if got, want := string(ModulesLoad(p)), "# "+header+"\noverlay\nbr_netfilter\n"; got != want {
		t.Errorf("modules:\n got %q\nwant %q", got, want)
	}
	want := "# " + header + "\n" +
		"net.bridge.bridge-nf-call-ip6tables = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.ipv4.ip_forward = 1\n"
	if got := string(SysctlConf(p)); got != want {
		t.Errorf("sysctl:\n got %q\nwant %q", got, want)
	}
}

func TestCrictlYAML(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	out, err := CrictlYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "# " + header + "\nimage-endpoint: unix:///run/containerd/containerd.sock\n" +
		"runtime-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\n"
	if string(out) != want {
		t.Errorf("crictl.yaml:\n got %q\nwant %q", out, want)
	}
}

// unitOptions parses a rendered unit file back into section.name -> values.
func unitOptions(t *testing.T, content []byte) map[string][]string {
	t.Helper()
	opts, err := unit.DeserializeOptions(strings.NewReader(string(content)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, o := range opts {
		m[o.Section+"."+o.Name] = append(m[o.Section+"."+o.Name], o.Value)
	}
	return m
}

func TestContainerdUnit(t *testing.T) {
	// As upstream's units: 2.x leaves the open-files limit to systemd.
	for version, nofile := range map[string][]string{"1.7.30": {"infinity"}, "2.0.7": nil, "2.3.4": nil} {
		out, err := ContainerdUnit(version)
		if err != nil {
			t.Fatal(err)
		}
		if got := unitOptions(t, out)["Service.LimitNOFILE"]; !reflect.DeepEqual(got, nofile) {
			t.Errorf("containerd %s: LimitNOFILE %q, want %q", version, got, nofile)
		}
	}
	out, err := ContainerdUnit("1.7.30")
	if err != nil {
		t.Fatal(err)
	}
	opts := unitOptions(t, out)
	for k, v := range map[string]string{
		"Service.Type":           "notify",
		"Service.Delegate":       "yes",
		"Service.KillMode":       "process",
		"Service.ExecStartPre":   "-/sbin/modprobe overlay",
		"Service.ExecStart":      "/usr/local/bin/containerd",
		"Service.Restart":        "always",
		"Service.LimitNOFILE":    "infinity",
		"Service.TasksMax":       "infinity",
		"Service.OOMScoreAdjust": "-999",
		"Install.WantedBy":       "multi-user.target",
	} {
		if !reflect.DeepEqual(opts[k], []string{v}) {
			t.Errorf("%s = %q, want %q", k, opts[k], v)
		}
	}
}

func TestKubeletDropIn(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Flags = []string{"--node-labels=role=worker", "--node-ip=10.0.0.7", `--provider-id=a b"c`, "--v=2%$"}
	out, err := KubeletDropIn(p)
	if err != nil {
		t.Fatal(err)
	}
	got := unitOptions(t, out)["Service.ExecStart"]
	// As kubeadm's 10-kubeadm.conf: its variables in its order, then
	// nodeup's drop-in directory, the label of the kata handler its
	// RuntimeClass selects, and the profile's flags last.
	want := []string{"", "/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS" +
		" --config-dir=/etc/kubernetes/kubelet.conf.d" +
		" --node-labels=runtime.nodeup.io/kata-qemu=true" +
		` --node-labels=role=worker --node-ip=10.0.0.7 "--provider-id=a b\"c" --v=2%%$$`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ExecStart:\n got %q\nwant %q", got, want)
	}
	wantEnv := []string{
		`"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"`,
		`"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"`,
	}
	if env := unitOptions(t, out)["Service.Environment"]; !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("Environment = %q", env)
	}
	// kubeadm join's node-specific flags and the package's extra args still reach the kubelet.
	wantFiles := []string{"-/var/lib/kubelet/kubeadm-flags.env", "-/etc/default/kubelet", "-/etc/sysconfig/kubelet"}
	if env := unitOptions(t, out)["Service.EnvironmentFile"]; !reflect.DeepEqual(env, wantFiles) {
		t.Errorf("EnvironmentFile = %q", env)
	}
	p.Kubelet.Flags = []string{"--bad=a\nb"}
	if _, err := KubeletDropIn(p); err == nil {
		t.Error("a newline in a flag: want an error")
	}
}
