package plan

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

var (
	sumA = strings.Repeat("a", 64)
	sumB = strings.Repeat("b", 64)
	// nodeup's pins of containerd 2.3.4.
	pinAMD64 = "9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168"
	pinARM64 = "a985fbb7e18fc0362d31a055338f5d7b0e087a3e27f14c70d1c5965399a29f95"
)

// Each architecture the profile is loaded for gets its own sum, and {arch}
// in the url its own name.
func TestSHA256PerArch(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", `containerd {
  version = "2.3.99"
  url     = "https://downloads.internal/containerd-2.3.99-linux-{arch}.tar.gz"
  sha256  = { amd64 = "`+sumA+`", arm64 = "`+sumB+`" }
}
runc { version = "1.4.3" }
`)
	for arch, want := range map[string]string{"amd64": sumA, "arm64": sumB} {
		loaded, diags := load(t, path, Options{HostArch: arch, Arches: []string{"amd64", "arm64"}})
		if diags.HasErrors() {
			t.Fatalf("%s: %s", arch, diagText(diags))
		}
		c := loaded.Profile.Containerd
		if c.SHA256 != want || c.URL != "https://downloads.internal/containerd-2.3.99-linux-"+arch+".tar.gz" {
			t.Errorf("%s: sha256 %s, url %s", arch, c.SHA256, c.URL)
		}
	}
}

// An architecture an object leaves out takes the pin, where there is one.
func TestSHA256PerArchFallsBackToPin(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", `containerd {
  version = "2.3.4"
  sha256  = { amd64 = "`+pinAMD64+`" }
}
runc { version = "1.4.3" }
`)
	loaded, diags := load(t, path, Options{HostArch: "arm64", Arches: []string{"amd64", "arm64"}})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	if got := loaded.Profile.Containerd.SHA256; got != pinARM64 {
		t.Errorf("arm64 sha256 %s, want the pin %s", got, pinARM64)
	}
}

// A string is one file's sum: valid when the profile is loaded for one
// architecture, refused at its line when it is loaded for several.
func TestSHA256StringIsOneArch(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", `containerd {
  version = "2.3.99"
  sha256  = "`+sumA+`"
}
runc { version = "1.4.3" }
`)
	for _, arches := range [][]string{nil, {"arm64"}} {
		if _, diags := load(t, path, Options{HostArch: "arm64", Arches: arches}); diags.HasErrors() {
			t.Errorf("loaded for %v: %s", arches, diagText(diags))
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		loaded, diags := load(t, path, Options{HostArch: arch, Arches: []string{"arm64", "amd64"}})
		if loaded.Profile != nil || len(diags) != 1 {
			t.Fatalf("%s: accepted, or not one error:\n%s", arch, diagText(diags))
		}
		d := diags[0]
		if d.Subject == nil || d.Subject.Start.Line != 3 || d.Summary != "One sha256 for several architectures" ||
			!strings.Contains(d.Detail, `loaded for amd64 and arm64`) ||
			!strings.Contains(d.Detail, `sha256 = { amd64 = "<64 hex digits>", arm64 = "<64 hex digits>" }`) {
			t.Errorf("%s: %s", arch, diagText(diags))
		}
	}
	// Nor does a version without a pin suggest a string then.
	unpinned := write(t, t.TempDir(), "p.hcl", "containerd { version = \"2.3.99\" }\nrunc { version = \"1.4.3\" }\n")
	_, diags := load(t, unpinned, Options{HostArch: "amd64", Arches: []string{"amd64", "arm64"}})
	if !strings.Contains(diagText(diags), `set sha256 = { amd64 = "<64 hex digits>", arm64 = "<64 hex digits>" }`) {
		t.Errorf("unpinned, two arches:\n%s", diagText(diags))
	}
}

// A sum that is not nodeup's pin for the same version and URL is a
// warning naming both; another URL has no pin to differ from.
func TestSHA256DiffersFromPinWarns(t *testing.T) {
	path := write(t, t.TempDir(), "p.hcl", `containerd {
  version = "2.3.4"
  sha256 = {
    amd64 = "`+pinAMD64+`"
    arm64 = "`+sumB+`"
  }
}
runc {
  version = "1.4.3"
  url     = "https://downloads.internal/runc.{arch}"
  sha256  = { amd64 = "`+sumA+`", arm64 = "`+sumB+`" }
}
`)
	loaded, diags := load(t, path, Options{HostArch: "amd64"})
	if loaded.Profile == nil || len(diags) != 1 {
		t.Fatalf("want one warning:\n%s", diagText(diags))
	}
	d := diags[0]
	if d.Severity != hcl.DiagWarning || d.Subject.Start.Line != 5 || d.Summary != "sha256 differs from nodeup's pin" ||
		!strings.Contains(d.Detail, "containerd.sha256 for arm64 is "+sumB) || !strings.Contains(d.Detail, "as "+pinARM64) ||
		!strings.Contains(d.Detail, "https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-arm64.tar.gz") {
		t.Errorf("warning: %s", diagText(diags))
	}
	// A string for the loaded architecture is compared with its pin.
	one := write(t, t.TempDir(), "p.hcl", "containerd {\n  version = \"2.3.4\"\n  sha256  = \""+sumA+"\"\n}\nrunc { version = \"1.4.3\" }\n")
	_, diags = load(t, one, Options{HostArch: "amd64"})
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Subject.Start.Line != 3 ||
		!strings.Contains(diags[0].Detail, "containerd.sha256 for amd64 is "+sumA+", but nodeup pins containerd 2.3.4 (amd64)") ||
		!strings.Contains(diags[0].Detail, pinAMD64) {
		t.Errorf("string: %s", diagText(diags))
	}
}
