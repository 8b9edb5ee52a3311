package paths

import "testing"

func TestWritable(t *testing.T) {
	for p, want := range map[string]bool{
		Containerd: true, Runc: true, ContainerdConfig: true, CrictlConfig: true, Sysctl: true, ModulesLoad: true,
		CNIBinDir + "/bridge": true, KataDir: true, InUnitDir("containerd.service"): true, KubeletConfig: true, StateFile: true,
		"/":                               false,
		"/etc/passwd":                     false,
		"/etc/shadow":                     false,
		"/usr/local":                      false, // a root itself, never removed
		"/opt":                            false,
		"/etc/sysctl.d":                   false,
		"/usr/bin/containerd":             false, // the distribution's
		"/usr/local/bin/../../etc/passwd": false,
		"/usr/local//bin/x":               false,
		"usr/local/bin/x":                 false,
		"/usr/localx/bin":                 false,
		"/etc/containerd.d/x":             false,
	} {
		if got := Writable(p); got != want {
			t.Errorf("Writable(%q) = %v, want %v", p, got, want)
		}
	}
}
