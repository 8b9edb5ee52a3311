package systemdtest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/systemd"
)

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
	var ue *systemd.UnitError
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
	if err := systemd.WaitActive(ctx, f, "a.service", 5*time.Second); err != nil {
		t.Errorf("activating -> active: %v", err)
	}

	f.SetState("b.service", "failed")
	f.Unit("b.service").Journal = "b.service: Main process exited, code=exited, status=1/FAILURE"
	err := systemd.WaitActive(ctx, f, "b.service", 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "status=1/FAILURE") || !strings.Contains(err.Error(), "journalctl -u b.service") {
		t.Errorf("failed unit: %v", err)
	}

	f.SetState("c.service", "activating")
	err = systemd.WaitActive(ctx, f, "c.service", 400*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not active after 400ms (state activating)") {
		t.Errorf("timeout: %v", err)
	}
}

// An absolute symlink inside the image resolves inside the root, never on
// the machine building it.
