package facts

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

type dirRoot string

func (d dirRoot) Path(p string) (string, error) { return filepath.Join(string(d), p), nil }

func write(t *testing.T, root dirRoot, p, content string, mode os.FileMode) {
	t.Helper()
	real, _ := root.Path(p)
	os.MkdirAll(filepath.Dir(real), 0o755)
	if err := os.WriteFile(real, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestGatherFakeRoot(t *testing.T) {
	root := dirRoot(t.TempDir())
	write(t, root, "/etc/os-release", `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
`, 0o644)
	write(t, root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n", 0o444)
	write(t, root, "/usr/bin/apt-get", "", 0o755)
	write(t, root, "/usr/bin/dpkg-query", "", 0o755)
	write(t, root, "/usr/bin/containerd", "#!/bin/sh\necho containerd github.com/containerd/containerd/v2 v2.4.2 6f2bd9a\n", 0o755)
	// /usr/local/sbin is searched before /usr/sbin.
	write(t, root, "/usr/local/sbin/runc", "#!/bin/sh\nprintf 'runc version 1.4.3\\ncommit: v1.4.3-0\\nspec: 1.2.1\\n'\n", 0o755)
	write(t, root, "/usr/sbin/runc", "#!/bin/sh\necho runc version 1.1.5\n", 0o755)

	f := Gather(root, false)
	want := Facts{
		Arch: runtime.GOARCH, Machine: f.Machine, Kernel: f.Kernel,
		Distro:         Distro{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		PackageManager: "apt",
		Cgroup:         Cgroup{Version: "v2", Controllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}},
		Containerd:     &Binary{Path: "/usr/bin/containerd", Version: "2.4.2"},
		Runc:           &Binary{Path: "/usr/local/sbin/runc", Version: "1.4.3"},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("facts:\n%+v\nwant\n%+v", f, want)
	}
	if f.Machine == "" || f.Kernel == "" {
		t.Error("no uname")
	}

	var buf bytes.Buffer
	f.Table(&buf)
	for _, line := range []string{
		"distro           debian 12 (Debian GNU/Linux 12 (bookworm))\n",
		"package manager  apt\n",
		"systemd          not running\n",
		"cgroup           v2: cpuset cpu io memory hugetlb pids\n",
		"kvm              absent\n",
		"containerd       /usr/bin/containerd 2.4.2\n",
		"runc             /usr/local/sbin/runc 1.4.3\n",
	} {
		if !strings.Contains(buf.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, buf.String())
		}
	}

	js, _ := json.Marshal(f)
	for _, frag := range []string{`"distro":{"id":"debian","version_id":"12"`, `"cgroup":{"version":"v2","controllers":["cpuset"`, `"runc":{"path":"/usr/local/sbin/runc","version":"1.4.3"}`, `"kvm":false`} {
		if !strings.Contains(string(js), frag) {
			t.Errorf("json lacks %s: %s", frag, js)
		}
	}
}

func TestGatherCgroupV1AndBrokenBinary(t *testing.T) {
	root := dirRoot(t.TempDir())
	write(t, root, "/usr/lib/os-release", "ID=fedora\nVERSION_ID=41\n", 0o644)
	os.MkdirAll(filepath.Join(string(root), "sys/fs/cgroup/memory"), 0o755)
	write(t, root, "/proc/cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t2\t1\t1\nmemory\t3\t40\t1\nhugetlb\t0\t1\t0\n", 0o444)
	write(t, root, "/usr/local/bin/containerd", "#!/bin/sh\necho oops >&2; exit 1\n", 0o755)
	write(t, root, "/usr/bin/runc", "not executable", 0o644)

	f := Gather(root, false)
	if f.Distro.ID != "fedora" || f.Distro.VersionID != "41" {
		t.Errorf("distro %+v", f.Distro)
	}
	if want := (Cgroup{Version: "v1", Controllers: []string{"cpuset", "memory"}}); !reflect.DeepEqual(f.Cgroup, want) {
		t.Errorf("cgroup %+v", f.Cgroup)
	}
	if f.Containerd == nil || f.Containerd.Version != "" || !strings.Contains(f.Containerd.Error, "exit status 1") {
		t.Errorf("containerd %+v", f.Containerd)
	}
	if f.Runc != nil || f.PackageManager != "" {
		t.Errorf("runc %+v, package manager %q", f.Runc, f.PackageManager)
	}
}

func TestGatherEmptyRoot(t *testing.T) {
	f := Gather(dirRoot(t.TempDir()), false)
	if f.Distro != (Distro{}) || f.Cgroup.Version != "" || f.Containerd != nil || f.Systemd {
		t.Errorf("%+v", f)
	}
	var buf bytes.Buffer
	f.Table(&buf)
	if !strings.Contains(buf.String(), "unknown (no os-release)") || !strings.Contains(buf.String(), "runc             not found") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestParseOSRelease(t *testing.T) {
	got := ParseOSRelease(`# comment
NAME="Fedora Linux"
VERSION_ID=41
PRETTY_NAME='single quoted'
ESCAPED="a \"b\" \$c \\d"
BROKEN
`)
	want := map[string]string{"NAME": "Fedora Linux", "VERSION_ID": "41", "PRETTY_NAME": "single quoted", "ESCAPED": `a "b" $c \d`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
}

func TestParseVersion(t *testing.T) {
	for out, want := range map[string]string{
		"containerd github.com/containerd/containerd/v2 v2.4.2 6f2bd9a\n": "2.4.2",
		"containerd containerd.io 1.6.20~ds1 1.6.20~ds1-1+b1\n":           "1.6.20~ds1",
		"runc version 1.1.5\ncommit: v1.1.5\nspec: 1.0.2-dev\n":           "1.1.5",
		"runc version 1.2.0-rc.1+dev\n":                                   "1.2.0-rc.1+dev",
		"crictl version v1.34.0\n":                                        "1.34.0",
		"no version here v2\n":                                            "",
		"":                                                                "",
	} {
		if got := ParseVersion(out); got != want {
			t.Errorf("ParseVersion(%q) = %q, want %q", out, got, want)
		}
	}
}
