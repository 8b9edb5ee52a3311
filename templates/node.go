package templates

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/profile"
)

// crictlTimeoutSeconds bounds each crictl call; crictl's own default (2s) is
// too short for a busy node.
const crictlTimeoutSeconds = 10

// ModulesLoad renders /etc/modules-load.d/nodeup.conf: node.kernel_modules,
// one per line, in the profile's order (systemd-modules-load loads them in it).
func ModulesLoad(p *profile.Profile) []byte {
	var b bytes.Buffer
	b.WriteString("# " + header + "\n")
	for _, m := range p.Node.KernelModules {
		b.WriteString(m + "\n")
	}
	return b.Bytes()
}

// SysctlConf renders /etc/sysctl.d/99-nodeup.conf: node.sysctl as
// "key = value" lines sorted by key.
func SysctlConf(p *profile.Profile) []byte {
	var b bytes.Buffer
	b.WriteString("# " + header + "\n")
	for _, k := range slices.Sorted(maps.Keys(p.Node.Sysctl)) {
		fmt.Fprintf(&b, "%s = %s\n", k, p.Node.Sysctl[k])
	}
	return b.Bytes()
}

// crictlConfig is the part of crictl's config file nodeup sets.
type crictlConfig struct {
	RuntimeEndpoint string `json:"runtime-endpoint"`
	ImageEndpoint   string `json:"image-endpoint"`
	Timeout         int    `json:"timeout"`
}

// CrictlYAML renders /etc/crictl.yaml: crictl talks to the same CRI endpoint
// as the kubelet for both runtime and image calls.
func CrictlYAML(p *profile.Profile) ([]byte, error) {
	out, err := yaml.Marshal(crictlConfig{
		RuntimeEndpoint: p.RuntimeEndpoint(),
		ImageEndpoint:   p.RuntimeEndpoint(),
		Timeout:         crictlTimeoutSeconds,
	})
	if err != nil {
		return nil, fmt.Errorf("crictl.yaml: %w", err)
	}
	return append([]byte("# "+header+"\n"), out...), nil
}

// RuntimeClasses returns one node.k8s.io/v1 RuntimeClass per runtime block,
// in declaration order, named after its handler, with the runtime's
// overhead as overhead.podFixed (for kata, kata-deploy's when the profile
// sets none), and scheduled onto nodes of the profile's OS: a Windows
// class also tolerates the taint Windows nodes carry.
func RuntimeClasses(p *profile.Profile) ([]nodev1.RuntimeClass, error) {
	classes := make([]nodev1.RuntimeClass, 0, len(p.Runtimes))
	for _, r := range p.Runtimes {
		rc := nodev1.RuntimeClass{
			TypeMeta:   metav1.TypeMeta{APIVersion: nodev1.SchemeGroupVersion.String(), Kind: "RuntimeClass"},
			ObjectMeta: metav1.ObjectMeta{Name: r.Name},
			Handler:    r.Name,
			Scheduling: scheduling(p, r),
		}
		overhead := r.Overhead
		if len(overhead) == 0 && r.Type == profile.RuntimeKata {
			overhead = kataOverhead(r.Hypervisor)
		}
		if len(overhead) > 0 {
			fixed := corev1.ResourceList{}
			for name, value := range overhead {
				q, err := resource.ParseQuantity(value)
				if err != nil {
					return nil, fmt.Errorf("runtime %q: overhead %s = %q: %w", r.Name, name, value, err)
				}
				fixed[corev1.ResourceName(name)] = q
			}
			rc.Overhead = &nodev1.Overhead{PodFixed: fixed}
		}
		classes = append(classes, rc)
	}
	return classes, nil
}

// scheduling keeps a RuntimeClass's pods on nodes of the profile's OS and,
// for a handler that is not the default one, on nodes labelled as having it
// (the kubelet's --node-labels, KubeletDropIn): a kata pod never lands on a
// node without kata.
func scheduling(p *profile.Profile, r profile.Runtime) *nodev1.Scheduling {
	os := string(p.Node.OS)
	if os == "" {
		os = string(profile.OSLinux)
	}
	s := &nodev1.Scheduling{NodeSelector: map[string]string{corev1.LabelOSStable: os}}
	if !r.Default {
		k, v := profile.RuntimeLabel(r.Name)
		s.NodeSelector[k] = v
	}
	if p.Node.OS == profile.OSWindows {
		s.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: os, Effect: corev1.TaintEffectNoSchedule}}
	}
	return s
}

// kataOverhead is the pod overhead kata-deploy gives a hypervisor's
// RuntimeClass: the VM's memory and the shim's CPU. A remote (peer pod)
// VM runs elsewhere and costs the node nothing.
func kataOverhead(hypervisor string) map[string]string {
	if hypervisor == "remote" {
		return nil
	}
	if strings.HasPrefix(hypervisor, "qemu") || hypervisor == "stratovirt" {
		return map[string]string{"memory": "160Mi", "cpu": "250m"}
	}
	return map[string]string{"memory": "130Mi", "cpu": "250m"}
}

// RuntimeClassesYAML renders /etc/nodeup/runtimeclasses.yaml: RuntimeClasses(p)
// as a multi-document YAML stream ready for kubectl apply -f.
func RuntimeClassesYAML(p *profile.Profile) ([]byte, error) {
	classes, err := RuntimeClasses(p)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# " + header + "\n")
	for _, rc := range classes {
		out, err := yaml.Marshal(rc)
		if err != nil {
			return nil, fmt.Errorf("runtimeclasses.yaml: %w", err)
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return b.Bytes(), nil
}

// ModulesIn lists the kernel modules a modules-load.d file (as ModulesLoad
// renders it) loads; nil for nil.
func ModulesIn(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' && line[0] != ';' {
			out = append(out, line)
		}
	}
	return out
}

// SysctlsIn reads the "key = value" lines of a sysctl.d file (as
// SysctlConf renders it).
func SysctlsIn(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if !ok || line[0] == '#' || line[0] == ';' {
			continue
		}
		out[strings.TrimPrefix(strings.TrimSpace(k), "-")] = strings.TrimSpace(v)
	}
	return out
}
