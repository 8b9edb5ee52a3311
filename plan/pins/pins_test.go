package pins

import (
	"strings"
	"testing"
)

func TestBuiltinCoversEveryComponent(t *testing.T) {
	tab := Builtin()
	for _, c := range []string{Containerd, Runc, CNI, Crictl, Kata, Kubelet} {
		for _, arch := range []string{"amd64", "arm64"} {
			if len(tab.Versions(c, arch)) == 0 {
				t.Errorf("no pinned %s versions for %s", c, arch)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	tab := Builtin()
	p, ok := tab.Lookup(Containerd, "2.3.4", "amd64")
	if !ok {
		t.Fatal("containerd 2.3.4 amd64 not pinned")
	}
	if p.SHA256 != "9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168" {
		t.Errorf("sha256 = %s", p.SHA256)
	}
	if !strings.HasSuffix(p.URL, "/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz") {
		t.Errorf("url = %s", p.URL)
	}
	if _, ok := tab.Lookup(Containerd, "2.3.99", "amd64"); ok {
		t.Error("unexpected pin for 2.3.99")
	}
	if p, ok := tab.Lookup(Kata, "3.32.0", "arm64"); !ok || !strings.HasSuffix(p.URL, "kata-static-3.32.0-arm64.tar.zst") {
		t.Errorf("kata 3.32.0 arm64: %+v %v", p, ok)
	}
}

func TestUpstreamURLMatchesPinsForUnpinnedLayout(t *testing.T) {
	// The computed layout must agree with the table wherever both exist,
	// so an unpinned version gets a URL in the same layout.
	tab := Builtin()
	for _, p := range tab.pins {
		bare := &Table{pins: map[string]Pin{}}
		if got := bare.UpstreamURL(p.Component, p.Version, p.Arch); got != p.URL {
			t.Errorf("%s %s %s: computed %s, table %s", p.Component, p.Version, p.Arch, got, p.URL)
		}
	}
}

func TestVersionsNewestFirst(t *testing.T) {
	v := Builtin().Versions(Containerd, "amd64")
	if v[0] != "2.3.4" {
		t.Errorf("newest containerd = %s, want 2.3.4 (%v)", v[0], v)
	}
}

func TestParseRejectsBadRows(t *testing.T) {
	if _, err := Parse("containerd\t1\tamd64\tf\tu\tshort\n"); err == nil {
		t.Error("short sha256 accepted")
	}
	if _, err := Parse("docker\t1\tamd64\tf\tu\t" + strings.Repeat("a", 64) + "\n"); err == nil {
		t.Error("unknown component accepted")
	}
}
