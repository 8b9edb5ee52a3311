package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/cri/critest"
)

// fakeProbe answers for the container's process what the test says.
type fakeProbe struct {
	cgroup string
	ifs    []Interface
	err    error
}

func (f fakeProbe) Cgroup(int) (string, error)     { return f.cgroup, f.err }
func (f fakeProbe) Netns(int) ([]Interface, error) { return f.ifs, f.err }

var podNetns = []Interface{
	{Name: "lo", Up: true, Addrs: []string{"127.0.0.1/8", "::1/128"}},
	{Name: "eth0", Up: true, Addrs: []string{"10.244.0.7/24", "fe80::1/64"}},
}

// podRuntime serves a fake runtime that runs pods for handlers.
func podRuntime(t *testing.T, handlers ...string) (*Client, *critest.Pods, *critest.Images) {
	t.Helper()
	images := &critest.Images{}
	images.Add("registry.k8s.io/pause:3.10", "sha256:1111111111111111111111111111111111111111111111111111111111111111")
	pods := &critest.Pods{Handlers: handlers, PID: 4242, PodIP: "10.244.0.7", Images: images}
	sock := critest.Serve(t, &critest.Runtime{Handlers: handlers, Images: images, Pods: pods})
	c, err := Dial(t.Context(), "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, pods, images
}

func results(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %v %s: %s\n", r.OK, r.Name, r.Detail)
	}
	return b.String()
}

func resultNamed(t *testing.T, rs []Result, name string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %q result in:\n%s", name, results(rs))
	return Result{}
}

func TestCheckPodsSystemd(t *testing.T) {
	c, pods, _ := podRuntime(t, "runc")
	rs := CheckPods(t.Context(), c, PodExpect{
		Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10", RequireAddress: true,
		Probe: fakeProbe{cgroup: "/nodeup.slice/nodeup-verify.slice/cri-containerd-abc.scope", ifs: podNetns},
	})
	for _, r := range rs {
		if !r.OK || r.Skipped {
			t.Errorf("%s: %s", r.Name, r.Detail)
		}
	}
	want := []string{"pod image", "pod runc sandbox", "pod runc container", "pod runc cgroup", "pod runc network", "pod runc cleanup"}
	if len(rs) != len(want) {
		t.Fatalf("results:\n%s", results(rs))
	}
	for i, w := range want {
		if rs[i].Name != w {
			t.Errorf("result %d is %q, want %q", i, rs[i].Name, w)
		}
	}
	if d := resultNamed(t, rs, "pod runc network").Detail; d != "lo up, pod IP 10.244.0.7 (eth0 10.244.0.7/24)" {
		t.Errorf("network: %q", d)
	}
	if len(pods.Parents) != 1 || pods.Parents[0] != "nodeup-verify.slice" {
		t.Errorf("cgroup parents %v, want the slice nodeup-verify.slice", pods.Parents)
	}
	if pods.Seccomp[0] != runtimeapi.SecurityProfile_RuntimeDefault {
		t.Errorf("sandbox seccomp %v, want RuntimeDefault as the kubelet asks", pods.Seccomp[0])
	}
	if sb, ctr := pods.Live(); sb != 0 || ctr != 0 {
		t.Errorf("%d sandboxes and %d containers left", sb, ctr)
	}
}

func TestCheckPodsCgroupfs(t *testing.T) {
	c, pods, _ := podRuntime(t, "runc")
	rs := CheckPods(t.Context(), c, PodExpect{
		Handlers: []string{"runc"}, CgroupDriver: "cgroupfs", Image: "registry.k8s.io/pause:3.10",
		Probe: fakeProbe{cgroup: "/nodeup-verify/abc", ifs: podNetns[:1]},
	})
	if r := resultNamed(t, rs, "pod runc cgroup"); !r.OK || r.Detail != "/nodeup-verify/abc (cgroupfs driver)" {
		t.Errorf("cgroup: %+v", r)
	}
	if r := resultNamed(t, rs, "pod runc network"); !r.OK || r.Detail != "lo up, pod IP 10.244.0.7" {
		t.Errorf("network: %+v", r)
	}
	if pods.Parents[0] != "/nodeup-verify" {
		t.Errorf("cgroup parent %q", pods.Parents[0])
	}
}

// A runtime whose runc uses the other driver puts the pod elsewhere:
// verify says which side disagrees.
func TestCheckPodsDriverDrift(t *testing.T) {
	c, _, _ := podRuntime(t, "runc")
	rs := CheckPods(t.Context(), c, PodExpect{
		Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10",
		Probe: fakeProbe{cgroup: "/system.slice/containerd.service/nodeup-verify.slice:cri-containerd:abc", ifs: podNetns},
	})
	r := resultNamed(t, rs, "pod runc cgroup")
	if r.OK || !strings.Contains(r.Detail, "containerd's runc uses the cgroupfs cgroup driver, while node.cgroup_driver (and the kubelet's cgroupDriver) is systemd") {
		t.Errorf("cgroup: %+v", r)
	}
	if r := resultNamed(t, rs, "pod runc cleanup"); !r.OK {
		t.Errorf("cleanup: %+v", r)
	}
}

func TestCheckPodsRuntimeErrors(t *testing.T) {
	c, pods, _ := podRuntime(t, "runc")
	pods.SandboxErr = map[string]error{"runc": status.Error(codes.Unknown, `failed to create containerd task: OCI runtime create failed: expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/nodeup-verify/abc" instead`)}
	rs := CheckPods(t.Context(), c, PodExpect{
		Handlers: []string{"runc", "kata-qemu"}, CgroupDriver: "cgroupfs", Image: "registry.k8s.io/pause:3.10", Probe: fakeProbe{},
	})
	runc := resultNamed(t, rs, "pod runc sandbox")
	if runc.OK || !strings.HasPrefix(runc.Detail, "RunPodSandbox: failed to create containerd task: OCI runtime create failed") || !strings.Contains(runc.Detail, "containerd's runc uses the systemd cgroup driver, while node.cgroup_driver is cgroupfs") {
		t.Errorf("runc: %+v", runc)
	}
	if kata := resultNamed(t, rs, "pod kata-qemu sandbox"); kata.OK || kata.Detail != `RunPodSandbox: failed to get sandbox runtime: no runtime for "kata-qemu" is configured` {
		t.Errorf("kata: %+v", kata)
	}
	if len(rs) != 3 {
		t.Errorf("results:\n%s", results(rs))
	}

	// A runc without seccomp cannot run the kubelet's sandboxes.
	pods.SandboxErr = map[string]error{"runc": status.Error(codes.Unknown, `failed to start sandbox: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: unable to init seccomp: seccomp: config provided but seccomp not supported`)}
	rs = CheckPods(t.Context(), c, PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10", Probe: fakeProbe{}})
	if r := resultNamed(t, rs, "pod runc sandbox"); r.OK || !strings.Contains(r.Detail, "seccomp not supported (the handler's runc was built without seccomp") {
		t.Errorf("runc without seccomp: %+v", r)
	}

	// A container that exits says how.
	pods.SandboxErr = nil
	pods.Exits = true
	rs = CheckPods(t.Context(), c, PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10", Probe: fakeProbe{}})
	if r := resultNamed(t, rs, "pod runc container"); r.OK || !strings.Contains(r.Detail, "is EXITED (exit code 1, Error ), not running") {
		t.Errorf("exited container: %+v", r)
	}
	if r := resultNamed(t, rs, "pod runc cleanup"); !r.OK {
		t.Errorf("cleanup: %+v", r)
	}
	if sb, ctr := pods.Live(); sb != 0 || ctr != 0 {
		t.Errorf("%d sandboxes and %d containers left", sb, ctr)
	}
}

func TestCheckPodsNetwork(t *testing.T) {
	c, pods, _ := podRuntime(t, "runc")
	pods.PodIP = ""
	for _, tc := range []struct {
		ifs     []Interface
		require bool
		ok      bool
		detail  string
	}{
		{[]Interface{{Name: "lo", Up: false}}, false, false, "lo is down"},
		{[]Interface{{Name: "eth0", Up: true}}, false, false, "has no lo"},
		{[]Interface{{Name: "lo", Up: true}, {Name: "eth0", Up: true, Addrs: []string{"fe80::1/64"}}}, true, false, "got no address from the CNI network"},
		{[]Interface{{Name: "lo", Up: true}}, false, true, "lo up, no network configured"},
	} {
		rs := CheckPods(t.Context(), c, PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10", RequireAddress: tc.require,
			Probe: fakeProbe{cgroup: "/nodeup.slice/nodeup-verify.slice/x", ifs: tc.ifs}})
		if r := resultNamed(t, rs, "pod runc network"); r.OK != tc.ok || !strings.Contains(r.Detail, tc.detail) {
			t.Errorf("%+v: %+v", tc.ifs, r)
		}
	}
}

func TestCheckPodsImage(t *testing.T) {
	c, pods, images := podRuntime(t, "runc")
	probe := fakeProbe{cgroup: "/nodeup.slice/nodeup-verify.slice/x", ifs: podNetns}
	rs := CheckPods(t.Context(), c, PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "docker.io/library/busybox:1.36", Probe: probe})
	if r := resultNamed(t, rs, "pod image"); !r.OK || !strings.Contains(r.Detail, "docker.io/library/busybox:1.36 pulled") || len(images.Pulled) != 1 {
		t.Errorf("pull: %+v, pulled %v", r, images.Pulled)
	}
	if r := resultNamed(t, rs, "pod runc container"); !r.OK {
		t.Errorf("container from the pulled image: %+v", r)
	}

	images.PullErr = status.Error(codes.Unknown, "failed to resolve reference: dial tcp: lookup registry.example: no such host")
	rs = CheckPods(t.Context(), c, PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.example/app:1", Probe: probe})
	if len(rs) != 1 || rs[0].OK || !strings.Contains(rs[0].Detail, "pulling it failed") || !strings.Contains(rs[0].Detail, "no such host") {
		t.Errorf("failed pull: %s", results(rs))
	}
	if sb, _ := pods.Live(); sb != 0 {
		t.Errorf("%d sandboxes left", sb)
	}
}

// An interrupted check still removes the pod it made, and a pod left by a
// verification that was killed is removed by the next one.
func TestCheckPodsCleansUp(t *testing.T) {
	c, pods, _ := podRuntime(t, "runc")
	ctx, cancel := context.WithCancel(t.Context())
	pods.BeforeStart = cancel
	rs := CheckPods(ctx, c, PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10", Probe: fakeProbe{}})
	if r := resultNamed(t, rs, "pod runc container"); r.OK || !strings.Contains(r.Detail, "context canceled") {
		t.Errorf("interrupted: %+v", r)
	}
	if r := resultNamed(t, rs, "pod runc cleanup"); !r.OK {
		t.Errorf("cleanup after the interrupt: %+v", r)
	}
	if sb, ctr := pods.Live(); sb != 0 || ctr != 0 {
		t.Errorf("%d sandboxes and %d containers left after an interrupt", sb, ctr)
	}

	pods.BeforeStart = nil
	pods.Leave(map[string]string{podLabel: "true"})
	other := pods.Leave(map[string]string{"app": "web"})
	CheckPods(t.Context(), c, PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10",
		Probe: fakeProbe{cgroup: "/nodeup.slice/nodeup-verify.slice/x", ifs: podNetns}})
	if sb, _ := pods.Live(); sb != 1 {
		t.Errorf("%d sandboxes left, want only %s, which is not nodeup's", sb, other)
	}
}

// ProcProbe reads this test's own process: its cgroup, and its network
// namespace (as root; without the privilege, the error says so).
func TestProcProbe(t *testing.T) {
	cg, err := ProcProbe{}.Cgroup(os.Getpid())
	if err != nil || !strings.HasPrefix(cg, "/") {
		t.Errorf("Cgroup = %q, %v", cg, err)
	}
	ifs, err := ProcProbe{}.Netns(os.Getpid())
	if err != nil {
		if os.Geteuid() != 0 && strings.Contains(err.Error(), "as root") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	found := false
	for _, i := range ifs {
		found = found || (i.Name == "lo" && i.Up)
	}
	if !found {
		t.Errorf("no lo up in %+v", ifs)
	}
	if _, err := (ProcProbe{}).Cgroup(1 << 30); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Cgroup of no process: %v", err)
	}
}

// pidProbe knows only the processes it is given: any other has exited.
type pidProbe map[int]string

func (p pidProbe) Cgroup(pid int) (string, error) {
	if cg, ok := p[pid]; ok {
		return cg, nil
	}
	return "", fmt.Errorf("open /proc/%d/cgroup: no such file or directory", pid)
}

func (p pidProbe) Netns(pid int) ([]Interface, error) {
	if _, ok := p[pid]; ok {
		return podNetns, nil
	}
	return nil, fmt.Errorf("open /proc/%d/ns/net: no such file or directory", pid)
}

// The proof does not depend on what the image's default command does: a
// container whose command ends at once (busybox's sh) passes, its pod
// checked through the sandbox's process, which lives as long as the pod.
// A container that exits with an error still fails.
func TestCheckPodsDefaultCommandExits(t *testing.T) {
	c, pods, _ := podRuntime(t, "runc")
	pods.ExitsOK, pods.SandboxPID = true, 4141
	probe := pidProbe{4141: "/nodeup.slice/nodeup-verify.slice/cri-containerd-sandbox.scope"}
	expect := PodExpect{Handlers: []string{"runc"}, CgroupDriver: "systemd", Image: "registry.k8s.io/pause:3.10", RequireAddress: true, Probe: probe}
	rs := CheckPods(t.Context(), c, expect)
	for _, r := range rs {
		if !r.OK || r.Skipped {
			t.Errorf("%s: %s", r.Name, r.Detail)
		}
	}
	if d := resultNamed(t, rs, "pod runc container").Detail; !strings.HasSuffix(d, "ran its command and exited 0") {
		t.Errorf("container: %q", d)
	}
	if d := resultNamed(t, rs, "pod runc cgroup").Detail; !strings.HasPrefix(d, "/nodeup.slice/nodeup-verify.slice/") {
		t.Errorf("cgroup: %q", d)
	}

	// A running container whose process is gone by the time its pod is
	// looked at is checked through the sandbox too.
	pods.ExitsOK = false
	if rs := CheckPods(t.Context(), c, expect); !resultNamed(t, rs, "pod runc cgroup").OK || !resultNamed(t, rs, "pod runc network").OK {
		t.Errorf("running container, exited process:\n%s", results(rs))
	}

	pods.Exits = true
	rs = CheckPods(t.Context(), c, expect)
	if r := resultNamed(t, rs, "pod runc container"); r.OK || !strings.Contains(r.Detail, "is EXITED (exit code 1") {
		t.Errorf("container that failed: %+v", r)
	}
	if sb, ctr := pods.Live(); sb != 0 || ctr != 0 {
		t.Errorf("%d sandboxes and %d containers left", sb, ctr)
	}
}
