package systemd

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nodeup/nodeup/node/host"
)

// tempRoot is a node root in a temp dir.
func tempRoot(t *testing.T) *host.Host {
	t.Helper()
	h, err := host.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func writeUnit(t *testing.T, root *host.Host, path, content string) {
	t.Helper()
	real, _ := root.Path(path)
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const containerdUnit = `[Unit]
Description=containerd container runtime

[Service]
Type=notify
ExecStart=/usr/local/bin/containerd

[Install]
WantedBy=multi-user.target
Alias=cri.service
`

func readLink(t *testing.T, root *host.Host, p string) string {
	t.Helper()
	dest, err := root.Readlink(p)
	if err != nil {
		t.Fatalf("readlink %s: %v", p, err)
	}
	return dest
}

func TestEnableOffline(t *testing.T) {
	root := tempRoot(t)
	const unitPath = "/etc/systemd/system/containerd.service"
	writeUnit(t, root, unitPath, containerdUnit)

	if on, err := IsEnabledOffline(root, unitPath, "containerd.service"); err != nil || on {
		t.Fatalf("before: enabled=%v err=%v", on, err)
	}
	changed, err := EnableOffline(root, unitPath, "containerd.service")
	if err != nil || !changed {
		t.Fatalf("first enable: changed=%v err=%v", changed, err)
	}
	for _, l := range []string{
		"/etc/systemd/system/multi-user.target.wants/containerd.service",
		"/etc/systemd/system/cri.service",
	} {
		if got := readLink(t, root, l); got != unitPath {
			t.Errorf("%s -> %s, want %s", l, got, unitPath)
		}
	}
	if on, err := IsEnabledOffline(root, unitPath, "containerd.service"); err != nil || !on {
		t.Fatalf("after: enabled=%v err=%v", on, err)
	}
	changed, err = EnableOffline(root, unitPath, "containerd.service")
	if err != nil || changed {
		t.Fatalf("second enable: changed=%v err=%v, want no change", changed, err)
	}
	// No temp links left behind.
	entries, _ := os.ReadDir(filepath.Join(root.Root(), "etc/systemd/system/multi-user.target.wants"))
	if len(entries) != 1 {
		t.Errorf("wants dir has %d entries, want 1", len(entries))
	}
}

func TestEnableOfflineReplacesStaleLink(t *testing.T) {
	root := tempRoot(t)
	const unitPath = "/etc/systemd/system/containerd.service"
	writeUnit(t, root, unitPath, "[Install]\nWantedBy=multi-user.target\n")
	wants := filepath.Join(root.Root(), "etc/systemd/system/multi-user.target.wants")
	os.MkdirAll(wants, 0o755)
	os.Symlink("/lib/systemd/system/containerd.service", filepath.Join(wants, "containerd.service"))

	if on, _ := IsEnabledOffline(root, unitPath, ""); on {
		t.Fatal("a link to the distribution's unit counts as enabled")
	}
	if changed, err := EnableOffline(root, unitPath, ""); err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if got := readLink(t, root, "/etc/systemd/system/multi-user.target.wants/containerd.service"); got != unitPath {
		t.Errorf("link -> %s", got)
	}
}

func TestEnableOfflineRefusesRegularFile(t *testing.T) {
	root := tempRoot(t)
	const unitPath = "/etc/systemd/system/containerd.service"
	writeUnit(t, root, unitPath, "[Install]\nWantedBy=multi-user.target\n")
	writeUnit(t, root, "/etc/systemd/system/multi-user.target.wants/containerd.service", "x")
	if _, err := EnableOffline(root, unitPath, ""); err == nil || !strings.Contains(err.Error(), "not a symlink") {
		t.Fatalf("err = %v", err)
	}
}

func TestInstallLinks(t *testing.T) {
	root := tempRoot(t)
	writeUnit(t, root, "/opt/x/kubelet.service", `[Install]
WantedBy=a.target
WantedBy=
WantedBy=multi-user.target  graphical.target
RequiredBy=b.target
UpheldBy=c.target
`)
	links, err := InstallLinks(root, "/opt/x/kubelet.service", "kubelet.service")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range links {
		got = append(got, l.Path+" -> "+l.Target)
	}
	want := []string{
		"/etc/systemd/system/multi-user.target.wants/kubelet.service -> /opt/x/kubelet.service",
		"/etc/systemd/system/graphical.target.wants/kubelet.service -> /opt/x/kubelet.service",
		"/etc/systemd/system/b.target.requires/kubelet.service -> /opt/x/kubelet.service",
		"/etc/systemd/system/c.target.upholds/kubelet.service -> /opt/x/kubelet.service",
		// outside the search path: linked into /etc/systemd/system too
		"/etc/systemd/system/kubelet.service -> /opt/x/kubelet.service",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("links:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestInstallLinksErrors(t *testing.T) {
	root := tempRoot(t)
	writeUnit(t, root, "/etc/systemd/system/static.service", "[Service]\nExecStart=/bin/true\n")
	writeUnit(t, root, "/etc/systemd/system/spec.service", "[Install]\nWantedBy=%i.target\n")
	for _, tc := range []struct{ path, name, want string }{
		{"/etc/systemd/system/static.service", "", "no [Install]"},
		{"/etc/systemd/system/spec.service", "", "specifiers"},
		{"/etc/systemd/system/missing.service", "", "no such file"},
		{"/etc/systemd/system/getty@.service", "getty@.service", "template"},
		{"relative.service", "", "not absolute"},
	} {
		_, err := InstallLinks(root, tc.path, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.want)
		}
	}
	_, err := EnableOffline(root, "/etc/systemd/system/static.service", "")
	if !errors.Is(err, ErrNoInstallSection) {
		t.Errorf("static unit: %v is not ErrNoInstallSection", err)
	}
}

func TestRunning(t *testing.T) {
	if Running(t.TempDir()) {
		t.Error("a root other than / never has a running systemd")
	}
	_, err := os.Stat("/run/systemd/system")
	if got, want := Running("/"), err == nil; got != want {
		t.Errorf("Running(/) = %v, want %v", got, want)
	}
}

func TestEnableOfflineStaysInRoot(t *testing.T) {
	root := tempRoot(t)
	const unitPath = "/etc/systemd/system/containerd.service"
	writeUnit(t, root, unitPath, "[Install]\nWantedBy=multi-user.target\n")
	if err := root.Symlink("/srv/wants", "/etc/systemd/system/multi-user.target.wants"); err != nil {
		t.Fatal(err)
	}
	if _, err := EnableOffline(root, unitPath, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root.Root(), "srv/wants/containerd.service")); err != nil {
		t.Errorf("link not under the root: %v", err)
	}
}
