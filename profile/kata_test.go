package profile

import "testing"

func TestKataHypervisorReleases(t *testing.T) {
	for _, c := range []struct {
		name, version string
		shipped       bool
	}{
		{"cloud-hypervisor", "3.29.0", true},
		{"cloud-hypervisor", "3.30.0", false},
		{"clh-runtime-rs", "3.29.0", false},
		{"clh-runtime-rs", "3.32.0", true},
		{"qemu", "3.32.0", true},
		{"dragonball", "4.1.0", true},
		// A version that is not a release version is not judged.
		{"clh-runtime-rs", "main", true},
	} {
		h, ok := LookupKataHypervisor(c.name)
		if !ok {
			t.Fatalf("no hypervisor %s", c.name)
		}
		if got := h.ShippedIn(c.version); got != c.shipped {
			t.Errorf("%s in kata %s: %v, want %v", c.name, c.version, got, c.shipped)
		}
	}
	if _, ok := LookupKataHypervisor("virtualbox"); ok {
		t.Error("virtualbox is a kata hypervisor")
	}
}
