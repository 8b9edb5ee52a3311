package facts

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/host"
)

type dirRoot string

func (d dirRoot) h(t *testing.T) *host.Host {
	t.Helper()
	h, err := host.New(string(d))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func write(t *testing.T, root dirRoot, p, content string, mode os.FileMode) {
	t.Helper()
	real := filepath.Join(string(root), p)
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

	f := gather(root.h(t), false, true, nil)
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

	f := gather(root.h(t), false, true, nil)
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
	f := Gather(dirRoot(t.TempDir()).h(t), false, nil)
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

// An image is untrusted: whatever its binaries do, facts does not run
// them. Their version is the one nodeup recorded installing, if any.
func TestGatherRunsNothingUnderRoot(t *testing.T) {
	root := dirRoot(t.TempDir())
	ran := filepath.Join(t.TempDir(), "ran")
	for _, p := range []string{"/usr/local/bin/containerd", "/usr/local/sbin/runc"} {
		write(t, root, p, "#!/bin/sh\ntouch "+ran+"\necho "+p+" v9.9.9\n", 0o755)
	}
	recorded := func(p string) string {
		if p == "/usr/local/bin/containerd" {
			return "2.1.0"
		}
		return ""
	}
	f := Gather(root.h(t), false, recorded)
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("a binary of the root was run")
	}
	if want := (&Binary{Path: "/usr/local/bin/containerd", Version: "2.1.0", NotRun: true}); !reflect.DeepEqual(f.Containerd, want) {
		t.Errorf("containerd %+v", f.Containerd)
	}
	if want := (&Binary{Path: "/usr/local/sbin/runc", NotRun: true}); !reflect.DeepEqual(f.Runc, want) {
		t.Errorf("runc %+v", f.Runc)
	}
	var buf bytes.Buffer
	f.Table(&buf)
	for _, line := range []string{
		"containerd       /usr/local/bin/containerd 2.1.0 (recorded by nodeup; not run under --root)\n",
		"runc             /usr/local/sbin/runc (version unknown) (not run under --root, and not installed by nodeup)\n",
	} {
		if !strings.Contains(buf.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, buf.String())
		}
	}
}

// Every file facts reads in an image is read without blocking and within
// a bound: a fifo or a huge sparse file in any of them costs nothing.
func TestGatherReadsBoundedAndNeverBlocks(t *testing.T) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release", "/sys/fs/cgroup/cgroup.controllers",
		"/proc/cgroups", "/etc/hostname", "/etc/hosts"} {
		for _, kind := range []string{"fifo", "sparse"} {
			t.Run(kind+p, func(t *testing.T) {
				root := dirRoot(t.TempDir())
				real := filepath.Join(string(root), p)
				os.MkdirAll(filepath.Dir(real), 0o755)
				os.MkdirAll(filepath.Join(string(root), "sys/fs/cgroup/memory"), 0o755)
				switch kind {
				case "fifo":
					if err := syscall.Mkfifo(real, 0o644); err != nil {
						t.Fatal(err)
					}
				case "sparse":
					f, err := os.Create(real)
					if err != nil {
						t.Fatal(err)
					}
					if err := f.Truncate(3 << 30); err != nil {
						t.Skip("no sparse files here:", err)
					}
					f.Close()
				}
				done := make(chan Facts, 1)
				go func() { done <- Gather(root.h(t), false, nil) }()
				select {
				case f := <-done:
					if f.Distro != (Distro{}) || f.Preflight.Hostname != "" || len(f.Cgroup.Controllers) != 0 {
						t.Errorf("read something from a %s: %+v", kind, f)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("Gather blocked on a %s at %s", kind, p)
				}
			})
		}
	}
}
