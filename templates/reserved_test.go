package templates

import (
	"bytes"
	"slices"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// With enforce, both cgroup drivers get the same cgroup names (the
// kubelet reads "/kube.slice" as kube.slice under systemd and as that
// directory under cgroupfs), containerd and the kubelet run in kube.slice,
// and every unit file parses.
func TestReservedEnforced(t *testing.T) {
	for _, driver := range []string{profile.CgroupSystemd, profile.CgroupCgroupfs} {
		p := exampleProfile(t, "2.3.4")
		p.Node.CgroupDriver = driver
		p.Kubelet.Declared = true
		p.Kubelet.Reserved = &profile.KubeletReserved{
			System:  map[string]string{"cpu": "100m", "memory": "256Mi"},
			Kube:    map[string]string{"cpu": "100m", "ephemeral-storage": "1Gi"},
			Enforce: true,
		}
		cfg, err := KubeletConfiguration(p)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.SystemReservedCgroup != "/system.slice" || cfg.KubeReservedCgroup != "/kube.slice" ||
			!slices.Equal(cfg.EnforceNodeAllocatable, []string{"pods", "system-reserved", "kube-reserved"}) ||
			cfg.KubeReserved["ephemeral-storage"] != "1Gi" || cfg.SystemReserved["memory"] != "256Mi" {
			t.Errorf("%s: %+v %+v %v %q %q", driver, cfg.SystemReserved, cfg.KubeReserved, cfg.EnforceNodeAllocatable, cfg.SystemReservedCgroup, cfg.KubeReservedCgroup)
		}
		files, err := Render(p)
		if err != nil {
			t.Fatal(err)
		}
		byPath := map[string][]byte{}
		for _, f := range files {
			byPath[f.Path] = f.Content
		}
		for _, dropIn := range []string{paths.ContainerdSliceDropIn, paths.KubeletSliceDropIn} {
			opts := parseUnit(t, dropIn, byPath[dropIn])
			if len(opts) != 1 || opts[0].Section != "Service" || opts[0].Name != "Slice" || opts[0].Value != paths.KubeSlice {
				t.Errorf("%s: %v, want [Service] Slice=%s", dropIn, opts, paths.KubeSlice)
			}
		}
		for _, f := range []string{paths.KubeSliceUnit, paths.SystemSliceDropIn} {
			opts := parseUnit(t, f, byPath[f])
			if !slices.ContainsFunc(opts, func(o *unit.UnitOption) bool {
				return o.Section == "Slice" && o.Name == "MemoryAccounting" && o.Value == "yes"
			}) {
				t.Errorf("%s does not account memory: %v", f, opts)
			}
		}
	}
}

// Without enforce, the reservations only shrink what pods may use: no
// cgroups, no slices.
func TestReservedNotEnforced(t *testing.T) {
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Declared = true
	p.Kubelet.Reserved = &profile.KubeletReserved{System: map[string]string{"memory": "256Mi"}}
	cfg, err := KubeletConfiguration(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SystemReserved["memory"] != "256Mi" || cfg.KubeReserved != nil || cfg.EnforceNodeAllocatable != nil || cfg.SystemReservedCgroup != "" {
		t.Errorf("%+v %+v %v %q", cfg.SystemReserved, cfg.KubeReserved, cfg.EnforceNodeAllocatable, cfg.SystemReservedCgroup)
	}
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == paths.KubeSliceUnit || f.Path == paths.ContainerdSliceDropIn || f.Path == paths.SystemSliceDropIn {
			t.Errorf("renders %s without enforce", f.Path)
		}
	}
}

func parseUnit(t *testing.T, name string, b []byte) []*unit.UnitOption {
	t.Helper()
	if b == nil {
		t.Fatalf("%s not rendered", name)
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return opts
}
