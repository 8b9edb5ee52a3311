package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/tests/testbed"
)

// buildPackages runs `make packages` for amd64 into a temporary directory
// and returns it with the version the packages have.
func buildPackages(t *testing.T) (dir, version string) {
	t.Helper()
	dir = t.TempDir()
	v, err := exec.Command("../packaging/version.sh").Output()
	if err != nil {
		t.Fatalf("version.sh: %v", err)
	}
	version = strings.TrimSpace(string(v))
	cmd := exec.Command("make", "-C", "..", "packages", "ARCHES=amd64", "PKGDIR="+dir, "VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make packages: %v\n%s", err, out)
	}
	return dir, version
}

func onlyFile(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s: want one file, got %v", pattern, m)
	}
	return m[0]
}

// TestPackages builds the .deb and .rpm with nfpm, has lintian and rpm
// look at them, and installs the .deb on a node with dpkg: nodeup runs,
// nodeup-boot.service is registered, and removing and purging work.
func TestPackages(t *testing.T) {
	testbed.InstallDeps(t)
	dir, version := buildPackages(t)
	deb := onlyFile(t, filepath.Join(dir, "nodeup_*_amd64.deb"))
	rpm := onlyFile(t, filepath.Join(dir, "nodeup-*.x86_64.rpm"))

	out, err := exec.Command("lintian", "--fail-on", "error", "--tag-display-limit", "0", deb).CombinedOutput()
	t.Logf("lintian %s:\n%s", filepath.Base(deb), out)
	if err != nil || strings.Contains(string(out), "\nE: ") || strings.HasPrefix(string(out), "E: ") {
		t.Errorf("lintian reports errors: %v", err)
	}

	out, err = exec.Command("rpm", "-qpl", rpm).CombinedOutput()
	t.Logf("rpm -qpl %s:\n%s", filepath.Base(rpm), out)
	if err != nil {
		t.Fatalf("rpm -qpl: %v", err)
	}
	for _, want := range []string{"/usr/bin/nodeup", "/usr/lib/systemd/system/nodeup-boot.service", "/usr/share/doc/nodeup/copyright",
		"/usr/share/doc/nodeup/changelog.gz", "/usr/share/doc/nodeup/examples/default.hcl",
		"/usr/lib/systemd/system/nodeup-drift.service", "/usr/lib/systemd/system/nodeup-drift.timer",
		"/usr/share/man/man1/nodeup.1.gz", "/usr/share/man/man1/nodeup-apply.1.gz", "/usr/share/man/man1/nodeup-bundle-verify.1.gz"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("the rpm lacks %s", want)
		}
	}
	out, err = exec.Command("rpm", "-qp", "--queryformat", "%{VERSION} %{ARCH}", rpm).CombinedOutput()
	if err != nil || string(out) != version+" x86_64" {
		t.Errorf("rpm version and arch: %q %v, want %s x86_64", out, err, version)
	}
	out, _ = exec.Command("rpm", "-qp", "--scripts", rpm).CombinedOutput()
	if !strings.Contains(string(out), "systemctl daemon-reload") || !strings.Contains(string(out), "systemctl enable nodeup-boot.service") {
		t.Errorf("rpm scripts:\n%s", out)
	}

	n := testbed.Boot(t, testbed.Options{Binds: []testbed.Bind{{Host: dir, Node: "/srv/packages", ReadOnly: true}}})
	r := n.Exec("dpkg", "-i", filepath.Join("/srv/packages", filepath.Base(deb)))
	t.Logf("dpkg -i: %s", r)
	if r.Code != 0 {
		t.Fatalf("dpkg -i: %s", r)
	}
	if out := n.Run(t, "nodeup", "version"); !strings.HasPrefix(out, "nodeup "+version+" (") {
		t.Errorf("nodeup version: %q, want %s", out, version)
	}
	if out := n.Exec("systemctl", "is-enabled", "nodeup-boot.service"); strings.TrimSpace(out.Stdout) != "enabled" {
		t.Errorf("nodeup-boot.service after install: %s", out)
	}
	if out := n.Run(t, "systemctl", "show", "-p", "FragmentPath", "nodeup-boot.service"); !strings.Contains(out, "/lib/systemd/system/nodeup-boot.service") {
		t.Errorf("systemd does not know the unit: %s", out)
	}
	// The drift timer ships, for the operator to enable.
	if out := n.Exec("systemctl", "is-enabled", "nodeup-drift.timer"); strings.TrimSpace(out.Stdout) != "disabled" {
		t.Errorf("nodeup-drift.timer after install: %s", out)
	}
	if r := n.Exec("test", "-s", "/usr/share/man/man1/nodeup-apply.1.gz"); r.Code != 0 {
		t.Errorf("no man page for nodeup apply: %s", r)
	}
	if r := n.Exec("dpkg", "-r", "nodeup"); r.Code != 0 {
		t.Errorf("dpkg -r: %s", r)
	}
	if r := n.Exec("dpkg", "--purge", "nodeup"); r.Code != 0 {
		t.Errorf("dpkg --purge: %s", r)
	}
	if _, err := os.Lstat(n.Path("/etc/systemd/system/multi-user.target.wants/nodeup-boot.service")); err == nil {
		t.Error("purge left the enable link")
	}
}

// TestPackageVersionsSort checks version.sh's versions with dpkg's and
// rpm's own comparisons, in a repository it tags as a release would.
func TestPackageVersionsSort(t *testing.T) {
	testbed.InstallDeps(t)
	repo := t.TempDir()
	script, err := os.ReadFile("../packaging/version.sh")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(repo, "packaging"), 0o755)
	os.WriteFile(filepath.Join(repo, "packaging/version.sh"), script, 0o755)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commit := func(date string) {
		t.Helper()
		cmd := exec.Command("git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c")
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE="+date, "GIT_AUTHOR_DATE="+date)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git commit: %v\n%s", err, out)
		}
	}
	version := func() string {
		t.Helper()
		out, err := exec.Command(filepath.Join(repo, "packaging/version.sh")).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	commit("2026-01-01T10:00:00Z")
	var seen []string
	seen = append(seen, version()) // no tag
	commit("2026-01-02T10:00:00Z")
	seen = append(seen, version()) // a later commit, no tag
	git("tag", "v1.2.0-rc1")
	seen = append(seen, version())
	commit("2026-01-03T10:00:00Z")
	git("tag", "v1.2.0")
	seen = append(seen, version())
	commit("2026-01-04T10:00:00Z")
	seen = append(seen, version()) // after the tag
	commit("2026-01-05T10:00:00Z")
	seen = append(seen, version())
	git("tag", "v1.2.1")
	seen = append(seen, version())
	t.Logf("versions in build order: %s", strings.Join(seen, " < "))
	if !strings.HasPrefix(seen[0], "0.0.0~git20260101100000.") || seen[2] != "1.2.0~rc1" || seen[3] != "1.2.0" ||
		!strings.HasPrefix(seen[4], "1.2.0+git20260104100000.") || seen[6] != "1.2.1" {
		t.Errorf("versions: %q", seen)
	}
	for i := 1; i < len(seen); i++ {
		a, b := seen[i-1], seen[i]
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s is not below %s", a, b)
		}
		out, err := exec.Command("rpm", "--eval", "%{lua: print(rpm.vercmp('"+a+"', '"+b+"'))}").Output()
		if err != nil || strings.TrimSpace(string(out)) != "-1" {
			t.Errorf("rpm: vercmp(%s, %s) = %q %v, want -1", a, b, out, err)
		}
	}
}
