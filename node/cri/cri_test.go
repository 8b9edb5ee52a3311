package cri

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/cri/critest"
)

// fakeRuntime is the RuntimeService part a CRI runtime answers verify with.
type fakeRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeReady bool
	networkReady bool
	handlers     []string // nil: the runtime does not fill RuntimeHandlers
	info         map[string]string
	cgroup       *runtimeapi.CgroupDriver // nil: RuntimeConfig is unimplemented
	extra        []*runtimeapi.RuntimeCondition
}

func (f *fakeRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "containerd", RuntimeVersion: "v2.3.4", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeRuntime) Status(_ context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	conds := []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: f.runtimeReady},
		{Type: runtimeapi.NetworkReady, Status: f.networkReady},
	}
	if !f.networkReady {
		conds[1].Reason, conds[1].Message = "NetworkPluginNotReady", "cni plugin not initialized"
	}
	if !f.runtimeReady {
		conds[0].Reason = "ContainerdNotReady"
	}
	resp := &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: append(conds, f.extra...)}}
	for _, h := range f.handlers {
		resp.RuntimeHandlers = append(resp.RuntimeHandlers, &runtimeapi.RuntimeHandler{Name: h})
	}
	if req.GetVerbose() {
		resp.Info = f.info
	}
	return resp, nil
}

func (f *fakeRuntime) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	if f.cgroup == nil {
		return nil, status.Error(codes.Unimplemented, "method RuntimeConfig not implemented")
	}
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: *f.cgroup}}, nil
}

func driver(d runtimeapi.CgroupDriver) *runtimeapi.CgroupDriver { return &d }

// serve runs the fake runtime on a unix socket in dir and returns its endpoint.
func serve(t *testing.T, sock string, f *fakeRuntime) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(s, f)
	go s.Serve(l)
	t.Cleanup(s.Stop)
}

func dial(t *testing.T, f *fakeRuntime) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	serve(t, sock, f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func healthy() *fakeRuntime {
	return &fakeRuntime{runtimeReady: true, networkReady: true, handlers: []string{"", "kata-qemu", "runc"}, cgroup: driver(runtimeapi.CgroupDriver_SYSTEMD)}
}

func find(t *testing.T, r Report, name string) Result {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Result{}
}

var expect = Expect{Handlers: []string{"runc", "kata-qemu"}, CgroupDriver: "systemd"}

func TestCheckHealthy(t *testing.T) {
	r := Check(context.Background(), dial(t, healthy()), expect)
	if !r.OK() || r.Err() != nil {
		t.Fatalf("not OK: %+v", r.Checks)
	}
	var buf bytes.Buffer
	r.Table(&buf)
	want := "" +
		"ok  version            containerd v2.3.4 (CRI v1)\n" +
		"ok  runtime-ready      ready\n" +
		"ok  network-ready      ready\n" +
		"ok  handler runc       registered (Status runtime handlers)\n" +
		"ok  handler kata-qemu  registered (Status runtime handlers)\n" +
		"ok  cgroup-driver      RuntimeConfig says systemd, want systemd\n"
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}

	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		OK     bool     `json:"ok"`
		Checks []Result `json:"checks"`
	}
	if err := json.Unmarshal(js, &back); err != nil || !back.OK || len(back.Checks) != len(r.Checks) {
		t.Errorf("json %s: %v", js, err)
	}
}

func TestCheckNotReady(t *testing.T) {
	f := healthy()
	f.runtimeReady, f.networkReady = false, false
	r := Check(context.Background(), dial(t, f), expect)
	if c := find(t, r, "runtime-ready"); c.OK || !strings.Contains(c.Detail, "ContainerdNotReady") {
		t.Errorf("runtime-ready: %+v", c)
	}
	// Reported, but not required by default.
	if c := find(t, r, "network-ready"); !c.OK || !strings.Contains(c.Detail, "not ready (not required): NetworkPluginNotReady: cni plugin not initialized") {
		t.Errorf("network-ready: %+v", c)
	}
	if r.OK() {
		t.Error("report OK with the runtime not ready")
	}

	e := expect
	e.RequireNetworkReady = true
	f.runtimeReady = true
	r = Check(context.Background(), dial(t, f), e)
	if c := find(t, r, "network-ready"); c.OK {
		t.Errorf("network-ready required but passed: %+v", c)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "network-ready: not ready") {
		t.Errorf("Err = %v", err)
	}
}

func TestCheckMissingHandler(t *testing.T) {
	f := healthy()
	f.handlers = []string{"", "runc"}
	r := Check(context.Background(), dial(t, f), expect)
	if c := find(t, r, "handler kata-qemu"); c.OK || c.Detail != "not registered; the runtime has: runc" {
		t.Errorf("%+v", c)
	}
	if c := find(t, r, "handler runc"); !c.OK {
		t.Errorf("%+v", c)
	}
}

func TestCheckWrongCgroupDriver(t *testing.T) {
	f := healthy()
	f.cgroup = driver(runtimeapi.CgroupDriver_CGROUPFS)
	r := Check(context.Background(), dial(t, f), expect)
	if c := find(t, r, "cgroup-driver"); c.OK || c.Detail != "RuntimeConfig says cgroupfs, want systemd" {
		t.Errorf("%+v", c)
	}
}

func TestCheckRuntimeConfigUnimplemented(t *testing.T) {
	f := healthy()
	f.cgroup = nil
	r := Check(context.Background(), dial(t, f), expect)
	c := find(t, r, "cgroup-driver")
	if !c.OK || !c.Skipped || !strings.Contains(c.Detail, "RuntimeConfig not implemented") || !strings.Contains(c.Detail, "no config file to check") {
		t.Errorf("%+v", c)
	}
	if !r.OK() {
		t.Error("a skipped check fails the report")
	}
	var buf bytes.Buffer
	r.Table(&buf)
	if !strings.Contains(buf.String(), "skip  cgroup-driver") {
		t.Errorf("table:\n%s", buf.String())
	}
}

// containerd 1.6 fills neither RuntimeHandlers nor RuntimeConfig; its
// verbose Status info holds its config, which names both.
func TestCheckOldContainerdInfoFallback(t *testing.T) {
	f := &fakeRuntime{runtimeReady: true, networkReady: true, info: map[string]string{
		"config": `{"containerd":{"defaultRuntimeName":"runc","runtimes":{
			"runc":{"runtimeType":"io.containerd.runc.v2","options":{"SystemdCgroup":false}},
			"kata-qemu":{"runtimeType":"io.containerd.kata-qemu.v2","options":null}}}}`,
	}, extra: []*runtimeapi.RuntimeCondition{{Type: "ContainerdHasNoDeprecationWarnings", Reason: "ContainerdHasDeprecationWarnings", Message: "io.containerd.deprecation/cri-registry-mirrors"}}}
	r := Check(context.Background(), dial(t, f), expect)
	if c := find(t, r, "handler kata-qemu"); !c.OK || !strings.Contains(c.Detail, "Status info") {
		t.Errorf("%+v", c)
	}
	c := find(t, r, "cgroup-driver")
	if c.OK || c.Skipped || !strings.Contains(c.Detail, `runtime "runc" SystemdCgroup=false in Status info says cgroupfs, want systemd`) {
		t.Errorf("%+v", c)
	}
	if c := find(t, r, "condition"); !c.OK || !strings.HasPrefix(c.Detail, "warning: ContainerdHasNoDeprecationWarnings is false: ContainerdHasDeprecationWarnings: io.containerd") {
		t.Errorf("%+v", c)
	}
}

func TestDialSocketAppearsLate(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "cri.sock")
	go func() {
		time.Sleep(600 * time.Millisecond)
		serve(t, sock, healthy())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("dial returned after %s, before the socket appeared", d)
	}
}

func TestDialSocketNeverAppears(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, "unix://"+sock)
	var de *DialError
	if !errors.As(err, &de) || !de.Missing {
		t.Fatalf("err = %#v", err)
	}
	for _, want := range []string{sock, "did not appear", "journalctl -u containerd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestDialSocketNotAnswering(t *testing.T) {
	// A socket that accepts but never speaks gRPC: a wedged runtime.
	sock := filepath.Join(t.TempDir(), "cri.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, "unix://"+sock)
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("err = %v", err)
	}
}

func TestSocketPath(t *testing.T) {
	for in, want := range map[string]string{
		"unix:///run/containerd/containerd.sock": "/run/containerd/containerd.sock",
		"/run/crio/crio.sock":                    "/run/crio/crio.sock",
	} {
		if got, err := SocketPath(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"npipe://./pipe/containerd-containerd", "tcp://1.2.3.4:5", "unix://relative.sock"} {
		if _, err := SocketPath(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func writeScript(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestCheckCNI(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "bridge"), `[ "$CNI_COMMAND" = VERSION ] || exit 1
echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}'
`, 0o755)
	writeScript(t, filepath.Join(dir, "portmap"), "echo 'exec format error' >&2; exit 2\n", 0o755)
	writeScript(t, filepath.Join(dir, "noexec"), "exit 0\n", 0o644)

	res := CheckCNI(context.Background(), dir, []string{"bridge", "portmap", "loopback", "noexec"})
	got := map[string]Result{}
	for _, r := range res {
		got[r.Name] = r
	}
	if r := got["cni bridge"]; !r.OK || r.Detail != filepath.Join(dir, "bridge")+" supports CNI 0.3.1, 0.4.0, 1.0.0" {
		t.Errorf("bridge: %+v", r)
	}
	for name, want := range map[string]string{
		"cni portmap":  filepath.Join(dir, "portmap") + " VERSION: netplugin failed",
		"cni loopback": filepath.Join(dir, "loopback") + ": no such file or directory",
		"cni noexec":   filepath.Join(dir, "noexec") + ": not an executable file",
	} {
		if r := got[name]; r.OK || !strings.HasPrefix(r.Detail, want) {
			t.Errorf("%s: %+v, want detail %q", name, r, want)
		}
	}

	r := Check(context.Background(), dial(t, healthy()), Expect{CNIBinDir: dir, CNIPlugins: []string{"bridge"}})
	if !r.OK() || find(t, r, "cni bridge").Detail == "" {
		t.Errorf("%+v", r.Checks)
	}
}

// serveFake runs a critest runtime and connects to it without Dial's
// Version probe, so a runtime whose Version fails can be checked too.
func serveFake(t *testing.T, f *critest.Runtime) *Client {
	t.Helper()
	sock := critest.Serve(t, f)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Client{Endpoint: "unix://" + sock, Socket: sock, conn: conn, runtime: runtimeapi.NewRuntimeServiceClient(conn)}
}

// renderedConfig writes a config.toml whose runc handler has SystemdCgroup.
func renderedConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	configV4Cgroupfs = `version = 4
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    SystemdCgroup = false
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata-qemu]
  runtime_type = 'io.containerd.kata-qemu.v2'
`
	configV2Systemd = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
`
)

// On a runtime that reports its cgroup driver neither in RuntimeConfig nor
// in its Status info, the check reads the rendered config it is given, and
// fails when that disagrees, is missing, or has no runc handler.
func TestCheckCgroupDriverFromConfigFile(t *testing.T) {
	unimplemented := status.Error(codes.Unimplemented, "method RuntimeConfig not implemented")
	c := serveFake(t, &critest.Runtime{Handlers: []string{"runc"}, NetworkReady: true, RuntimeConfigErr: unimplemented})
	for _, tc := range []struct {
		name, config string
		read         func(string) ([]byte, error)
		ok           bool
		detail       string
	}{
		{"agrees", configV2Systemd, nil, true, `sets runtime "runc" SystemdCgroup=true: systemd, want systemd`},
		{"disagrees", configV4Cgroupfs, nil, false, `sets runtime "runc" SystemdCgroup=false: cgroupfs, want systemd`},
		{"no runc handler", "version = 4\n", nil, false, "no runc handler to read the cgroup driver from"},
		{"not TOML", "version = = 4\n", nil, false, "not TOML"},
		{"missing", "", func(string) ([]byte, error) { return nil, fs.ErrNotExist }, false, "file does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Expect{Handlers: []string{"runc"}, CgroupDriver: "systemd", ContainerdConfig: renderedConfig(t, tc.config), ReadFile: tc.read}
			r := Check(context.Background(), c, e)
			got := find(t, r, "cgroup-driver")
			if got.OK != tc.ok || got.Skipped || !strings.Contains(got.Detail, tc.detail) || !strings.Contains(got.Detail, "RuntimeConfig not implemented") {
				t.Errorf("%+v, want ok=%v with %q", got, tc.ok, tc.detail)
			}
		})
	}
}

// Every check fails when the runtime answers with an error or a bad state.
func TestCheckFailures(t *testing.T) {
	broken := errors.New("runtime is wedged")
	for _, tc := range []struct {
		name   string
		fake   critest.Runtime
		check  string
		detail string
	}{
		{"version", critest.Runtime{VersionErr: broken}, "version", "Version: rpc error"},
		{"status", critest.Runtime{StatusErr: broken}, "runtime-ready", "Status: rpc error"},
		{"status handlers", critest.Runtime{StatusErr: broken}, "handler runc", "Status: rpc error"},
		{"not ready", critest.Runtime{NotReady: true, Handlers: []string{"runc"}}, "runtime-ready", "not ready: ContainerdNotReady"},
		{"handler", critest.Runtime{Handlers: []string{"kata-qemu"}}, "handler runc", "not registered; the runtime has: kata-qemu"},
		{"runtime config", critest.Runtime{Handlers: []string{"runc"}, RuntimeConfigErr: broken}, "cgroup-driver", "RuntimeConfig: rpc error"},
		{"cgroup driver", critest.Runtime{Handlers: []string{"runc"}, CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS}, "cgroup-driver", "RuntimeConfig says cgroupfs, want systemd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := tc.fake
			r := Check(context.Background(), serveFake(t, &fake), Expect{Handlers: []string{"runc"}, CgroupDriver: "systemd", RequireNetworkReady: true})
			got := find(t, r, tc.check)
			if got.OK || !strings.Contains(got.Detail, tc.detail) {
				t.Errorf("%s: %+v, want a failure with %q", tc.check, got, tc.detail)
			}
			if r.OK() || r.Err() == nil {
				t.Error("the report is OK")
			}
		})
	}
	// NetworkReady when required; CNI plugins fail in TestCheckCNI.
	r := Check(context.Background(), serveFake(t, &critest.Runtime{Handlers: []string{"runc"}, CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD}), Expect{RequireNetworkReady: true})
	if got := find(t, r, "network-ready"); got.OK {
		t.Errorf("network-ready: %+v", got)
	}
}
