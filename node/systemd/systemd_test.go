package systemd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

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

func TestFakeRecordsAndRestartChangesPID(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	if err := f.Enable(ctx, "containerd.service"); err != nil {
		t.Fatal(err)
	}
	if on, _ := f.IsEnabled(ctx, "containerd.service"); !on {
		t.Error("not enabled after Enable")
	}
	f.DaemonReload(ctx)
	f.Start(ctx, "containerd.service")
	_, pid1, _ := f.ActiveState(ctx, "containerd.service")
	f.Start(ctx, "containerd.service") // already active: same process
	_, pid2, _ := f.ActiveState(ctx, "containerd.service")
	f.Restart(ctx, "containerd.service")
	state, pid3, _ := f.ActiveState(ctx, "containerd.service")
	if state != "active" || pid1 == 0 || pid1 != pid2 || pid3 == pid1 {
		t.Errorf("state %s pids %d %d %d", state, pid1, pid2, pid3)
	}
	want := []string{"enable containerd.service", "daemon-reload", "start containerd.service", "start containerd.service", "restart containerd.service"}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if n := f.Count("restart", "containerd.service"); n != 1 {
		t.Errorf("restarts = %d", n)
	}
	if n := f.Count("daemon-reload", ""); n != 1 {
		t.Errorf("reloads = %d", n)
	}
}

func TestFakeFailuresAndMask(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	boom := errors.New("boom")
	f.Fail("restart", "containerd.service", boom)
	if err := f.Restart(ctx, "containerd.service"); !errors.Is(err, boom) {
		t.Errorf("restart err = %v", err)
	}
	f.Fail("daemon-reload", "", boom)
	if err := f.DaemonReload(ctx); !errors.Is(err, boom) {
		t.Errorf("reload err = %v", err)
	}

	f.Unit("kubelet.service").FileState = "masked"
	if s, _ := f.LoadState(ctx, "kubelet.service"); s != "masked" {
		t.Errorf("LoadState = %s", s)
	}
	if err := f.Start(ctx, "kubelet.service"); err == nil {
		t.Error("starting a masked unit succeeded")
	}
	f.Unmask(ctx, "kubelet.service")
	if s, _ := f.UnitFileState(ctx, "kubelet.service"); s != "disabled" {
		t.Errorf("after unmask: %s", s)
	}

	u := f.Unit("crashy.service")
	u.AfterStart, u.Journal = "failed", "crashy: bad config"
	err := f.Start(ctx, "crashy.service")
	var ue *UnitError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("start crashy: %v", err)
	}
}

func TestWaitActive(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	f.SetState("a.service", "activating")
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.SetState("a.service", "active")
	}()
	if err := WaitActive(ctx, f, "a.service", 5*time.Second); err != nil {
		t.Errorf("activating -> active: %v", err)
	}

	f.SetState("b.service", "failed")
	f.Unit("b.service").Journal = "b.service: Main process exited, code=exited, status=1/FAILURE"
	err := WaitActive(ctx, f, "b.service", 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "status=1/FAILURE") || !strings.Contains(err.Error(), "journalctl -u b.service") {
		t.Errorf("failed unit: %v", err)
	}

	f.SetState("c.service", "activating")
	start := time.Now()
	err = WaitActive(ctx, f, "c.service", 400*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not active after 400ms (state activating)") {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %s", d)
	}
}

// An absolute symlink inside the image resolves inside the root, never on
// the machine building it.
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
