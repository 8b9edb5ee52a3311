package templates

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/profile"
)

func TestKubeletConfigurationFromNode(t *testing.T) {
	for _, driver := range []string{profile.CgroupSystemd, profile.CgroupCgroupfs} {
		p := exampleProfile(t, "2.3.4")
		p.Node.CgroupDriver = driver
		p.Containerd.Socket = "/run/k8s/containerd.sock"
		cfg, err := KubeletConfiguration(p)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.CgroupDriver != driver || cfg.ContainerRuntimeEndpoint != "unix:///run/k8s/containerd.sock" {
			t.Errorf("cgroupDriver %q, endpoint %q; want %q, unix:///run/k8s/containerd.sock", cfg.CgroupDriver, cfg.ContainerRuntimeEndpoint, driver)
		}
		if cfg.Kind != "KubeletConfiguration" || cfg.APIVersion != "kubelet.config.k8s.io/v1beta1" {
			t.Errorf("TypeMeta = %+v", cfg.TypeMeta)
		}
		if cfg.MaxPods != 110 || cfg.ClusterDomain != "cluster.local" || len(cfg.ClusterDNS) != 1 {
			t.Errorf("user fields lost: maxPods %d, clusterDomain %q, clusterDNS %v", cfg.MaxPods, cfg.ClusterDomain, cfg.ClusterDNS)
		}
	}
}

func TestKubeletWindowsEndpoint(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Node.OS = profile.OSWindows
	cfg, err := KubeletConfiguration(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ContainerRuntimeEndpoint != "npipe://./pipe/containerd-containerd" {
		t.Errorf("windows endpoint = %q", cfg.ContainerRuntimeEndpoint)
	}
}

func TestKubeletUnknownField(t *testing.T) {
	for _, c := range []struct {
		config map[string]any
		field  string
	}{
		{map[string]any{"maxPod": 110}, "maxPod"},
		// Names are case-sensitive, unlike encoding/json's default.
		{map[string]any{"ClusterDNS": []any{"10.96.0.10"}}, "ClusterDNS"},
		{map[string]any{"authentication": map[string]any{"x509": map[string]any{"clientCAFil": "/ca"}}}, "authentication.x509.clientCAFil"},
	} {
		p := exampleProfile(t, "2.3.4")
		p.Kubelet.Config = c.config
		_, err := KubeletConfiguration(p)
		var e *UnknownFieldError
		if !errors.As(err, &e) || e.Field != c.field {
			t.Errorf("config %v: err = %v, want *UnknownFieldError for %q", c.config, err, c.field)
		}
	}
}

func TestKubeletInvalidValue(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Config = map[string]any{"maxPods": "many"}
	_, err := KubeletConfiguration(p)
	var e *InvalidValueError
	if !errors.As(err, &e) || !strings.Contains(e.Error(), "maxPods") {
		t.Errorf("err = %v, want *InvalidValueError naming maxPods", err)
	}
}

func TestKubeletConflict(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Config = map[string]any{"cgroupDriver": "cgroupfs", "containerRuntimeEndpoint": "unix:///run/crio/crio.sock"}
	_, err := KubeletConfiguration(p)
	got := map[string]ConflictError{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConflictError
		if errors.As(e, &ce) {
			got[ce.Field] = *ce
		}
	}
	want := map[string]ConflictError{
		"cgroupDriver":             {Field: "cgroupDriver", Owner: "node.cgroup_driver", Want: `"systemd"`, Got: `"cgroupfs"`},
		"containerRuntimeEndpoint": {Field: "containerRuntimeEndpoint", Owner: "containerd.socket", Want: `"unix:///run/containerd/containerd.sock"`, Got: `"unix:///run/crio/crio.sock"`},
	}
	if len(got) != 2 || got["cgroupDriver"] != want["cgroupDriver"] || got["containerRuntimeEndpoint"] != want["containerRuntimeEndpoint"] {
		t.Errorf("conflicts = %+v, want %+v", got, want)
	}

	// Agreeing with the node settings is allowed.
	p.Kubelet.Config = map[string]any{"cgroupDriver": "systemd", "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock"}
	if _, err := KubeletConfiguration(p); err != nil {
		t.Errorf("agreeing values: %v", err)
	}
}

func TestKubeletConfigYAMLTidy(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	// A user's explicit zero value stays; the struct's own zero values go.
	p.Kubelet.Config = map[string]any{
		"maxPods":        110,
		"failSwapOn":     false,
		"authentication": map[string]any{"anonymous": map[string]any{"enabled": false}},
		"syncFrequency":  "0s",
	}
	out, err := KubeletConfigYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"failSwapOn", "authentication", "syncFrequency", "maxPods", "cgroupDriver", "containerRuntimeEndpoint", "kind", "apiVersion"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("%s missing from\n%s", k, out)
		}
	}
	for _, k := range []string{"authorization", "logging", "fileCheckFrequency", "crashLoopBackOff", "memorySwap"} {
		if _, ok := doc[k]; ok {
			t.Errorf("zero-valued %s rendered in\n%s", k, out)
		}
	}
	if auth := doc["authentication"].(map[string]any); len(auth) != 1 {
		t.Errorf("authentication = %v, want only anonymous", auth)
	}
}

func TestKubeletFlagConflicts(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Flags = []string{
		"--node-labels=role=worker",
		"--cgroup-driver=cgroupfs",
		"--container-runtime-endpoint=unix:///run/crio/crio.sock",
		"--config=/etc/kubelet.yaml",
		"--v=2",
		"--max-pods=50",
		"--kubeconfig=/etc/other.conf",
		"--image-service-endpoint=unix:///run/other.sock",
	}
	want := map[int]string{
		1: "node.cgroup_driver",
		2: "containerd.socket",
		3: "the kubelet config kubeadm writes (/var/lib/kubelet/config.yaml), which nodeup's drop-in passes",
		5: "kubelet.config.maxPods",
		6: "the kubeconfig nodeup's kubelet drop-in passes (/etc/kubernetes/kubelet.conf)",
		7: "containerd.socket",
	}
	got := map[int]string{}
	for _, err := range KubeletFlagConflicts(p) {
		var e *FlagConflictError
		if !errors.As(err, &e) {
			t.Fatalf("%v is not a *FlagConflictError", err)
		}
		got[e.Index] = e.Owner
		if !strings.HasPrefix(p.Kubelet.Flags[e.Index], e.Flag) {
			t.Errorf("flag %d is %q, error names %s", e.Index, p.Kubelet.Flags[e.Index], e.Flag)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("conflicts by flag:\n got %v\nwant %v", got, want)
	}
}

// A Windows kubelet has no cgroups: kubelet.config may not give it a cgroup
// driver or QoS cgroups.
func TestKubeletWindowsConflicts(t *testing.T) {
	p := windowsProfile(t)
	p.Kubelet.Config = map[string]any{"cgroupDriver": "systemd", "cgroupsPerQOS": true, "maxPods": 64}
	_, err := KubeletConfiguration(p)
	got := map[string]string{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConflictError
		if errors.As(e, &ce) {
			got[ce.Field] = ce.Owner + " " + ce.Want
		}
	}
	want := map[string]string{"cgroupDriver": `node.os = "windows" `, "cgroupsPerQOS": `node.os = "windows" false`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("conflicts = %v, want %v", got, want)
	}
}
