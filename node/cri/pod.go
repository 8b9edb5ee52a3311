package cri

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodExpect is what a pod check runs and what it expects of the pod.
type PodExpect struct {
	Handlers     []string // a pod per runtime handler
	CgroupDriver string   // systemd | cgroupfs: where the pod's cgroup must be
	// Image is the container's image, from containerd's store, or pulled
	// (with containerd's registry settings) when it is not there.
	Image string
	// RequireAddress says a CNI network is configured: the sandbox must get
	// an address besides loopback.
	RequireAddress bool
	// Probe looks at the container's process on the node; nil means
	// ProcProbe (this host's /proc).
	Probe Probe
}

// Probe reads what the node's kernel says about a container's process.
type Probe interface {
	// Cgroup is the process's cgroup path (cgroup v2), e.g.
	// /nodeup.slice/nodeup-verify.slice/cri-containerd-<id>.scope.
	Cgroup(pid int) (string, error)
	// Netns lists the interfaces of the process's network namespace.
	Netns(pid int) ([]Interface, error)
}

// Interface is a network interface in a pod's network namespace.
type Interface struct {
	Name  string
	Up    bool
	Addrs []string // CIDR notation
}

// Labels nodeup puts on the pods it runs to verify a node, so a pod left
// by a verification that was killed is found and removed by the next.
const (
	podLabel     = "io.nodeup.verify"
	podNamespace = "nodeup-verify"
)

// VerifyParent is the cgroup parent of verification pods under a cgroup
// driver (a slice under systemd), and the cgroup path their containers
// must be under.
func VerifyParent(driver string) (parent, under string) {
	if driver == "cgroupfs" {
		return "/nodeup-verify", "/nodeup-verify/"
	}
	// systemd: "-" nests slices, so nodeup-verify.slice sits in nodeup.slice.
	return "nodeup-verify.slice", "/nodeup.slice/nodeup-verify.slice/"
}

// podCallTimeout bounds each CRI call of a pod check: starting a sandbox
// sets up its network and may pull the sandbox image.
const podCallTimeout = 2 * time.Minute

// CheckPods runs, for each handler, a pod sandbox and a container in it,
// checks that the container runs where the cgroup driver puts it and that
// its network namespace has loopback up (and an address, when a network is
// configured), and removes all it created — also when ctx is cancelled
// before it is done. Pods a killed verification left behind are removed
// first.
func CheckPods(ctx context.Context, c *Client, e PodExpect) []Result {
	var out []Result
	if e.Probe == nil {
		e.Probe = ProcProbe{}
	}
	if e.CgroupDriver == "" {
		e.CgroupDriver = runtimeDriver(ctx, c)
	}
	if r, ok := removeLeftovers(ctx, c); !ok {
		out = append(out, r)
	}
	image, res := ensureImage(ctx, c, e.Image)
	out = append(out, res)
	if !res.OK {
		return out
	}
	for _, h := range e.Handlers {
		out = append(out, checkPod(ctx, c, e, h, image)...)
	}
	return out
}

// runtimeDriver is the cgroup driver the runtime reports, else systemd.
func runtimeDriver(ctx context.Context, c *Client) string {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.Runtime().RuntimeConfig(cctx, &runtimeapi.RuntimeConfigRequest{})
	if err == nil && resp.GetLinux().GetCgroupDriver() == runtimeapi.CgroupDriver_CGROUPFS {
		return "cgroupfs"
	}
	return "systemd"
}

func podCheck(h, what string) string {
	if h == "" {
		h = "default"
	}
	return "pod " + h + " " + what
}

// ensureImage finds the container image in the runtime's store or pulls it.
func ensureImage(ctx context.Context, c *Client, image string) (string, Result) {
	const name = "pod image"
	cctx, cancel := context.WithTimeout(ctx, podCallTimeout)
	defer cancel()
	st, err := c.Images().ImageStatus(cctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	if err != nil {
		return "", Result{Name: name, Detail: fmt.Sprintf("ImageStatus %s: %v", image, err)}
	}
	if id := st.GetImage().GetId(); id != "" {
		return image, Result{Name: name, OK: true, Detail: fmt.Sprintf("%s present (%.19s)", image, id)}
	}
	resp, err := c.Images().PullImage(cctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	if err != nil {
		return "", Result{Name: name, Detail: fmt.Sprintf("%s is not in containerd's k8s.io namespace and pulling it failed: %v; preload it with an image block", image, err)}
	}
	return image, Result{Name: name, OK: true, Detail: fmt.Sprintf("%s pulled (%.19s)", image, resp.GetImageRef())}
}

// checkPod runs one handler's pod and removes it.
func checkPod(ctx context.Context, c *Client, e PodExpect, h, image string) (out []Result) {
	rt := c.Runtime()
	parent, under := VerifyParent(e.CgroupDriver)
	uid := randomID()
	cfg := sandboxConfig(h, uid, parent)
	cctx, cancel := context.WithTimeout(ctx, podCallTimeout)
	sb, err := rt.RunPodSandbox(cctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: h})
	cancel()
	if err != nil {
		// The sandbox may exist half-made; remove what the runtime kept.
		removePods(ctx, c, map[string]string{podLabel: "true"}, uid)
		return []Result{{Name: podCheck(h, "sandbox"), Detail: "RunPodSandbox: " + runtimeError(err) + sandboxHint(err, e.CgroupDriver)}}
	}
	id := sb.GetPodSandboxId()
	defer func() { out = append(out, removePod(ctx, c, h, id)) }()

	cctx, cancel = context.WithTimeout(ctx, podCallTimeout)
	st, err := rt.PodSandboxStatus(cctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	cancel()
	if err != nil {
		return []Result{{Name: podCheck(h, "sandbox"), Detail: "PodSandboxStatus: " + runtimeError(err)}}
	}
	ip := st.GetStatus().GetNetwork().GetIp()
	out = append(out, Result{Name: podCheck(h, "sandbox"), OK: true, Detail: fmt.Sprintf("%.13s ready in cgroup parent %s", id, parent)})

	running, ran := runContainer(ctx, c, h, id, cfg, image)
	out = append(out, ran)
	if !ran.OK {
		return out
	}
	// The sandbox's process lives as long as the sandbox, whatever the
	// image's command does; the container's may be gone already.
	pid := infoPID(st.GetInfo())
	if pid <= 0 {
		pid = running
	}
	if pid <= 0 {
		return append(out, Result{Name: podCheck(h, "cgroup"), OK: true, Skipped: true, Detail: "the runtime reports no pid for the pod; cgroup and network not checked"})
	}
	out = append(out, checkCgroup(e, h, pid, under))
	out = append(out, checkNetns(e, h, pid, ip))
	return out
}

// sandboxConfig is the verification pod of handler h.
func sandboxConfig(h, uid, parent string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: strings.TrimSuffix("nodeup-verify-"+h, "-"), Namespace: podNamespace, Uid: uid},
		Hostname: "nodeup-verify",
		Labels:   map[string]string{podLabel: "true"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: parent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD},
				// As the kubelet asks for every sandbox: a runtime that cannot
				// apply its default seccomp profile fails here, not later.
				Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
			},
		},
	}
}

// runContainer creates and starts the pod's container from image and
// says how it went: running (with its pid), or done with exit code 0 (an
// image whose default command ends at once, as busybox's sh does), which
// proves the handler ran it as well.
func runContainer(ctx context.Context, c *Client, h, id string, cfg *runtimeapi.PodSandboxConfig, image string) (int, Result) {
	rt := c.Runtime()
	name := podCheck(h, "container")
	cctx, cancel := context.WithTimeout(ctx, podCallTimeout)
	ctr, err := rt.CreateContainer(cctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  id,
		SandboxConfig: cfg,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "verify"},
			Image:    &runtimeapi.ImageSpec{Image: image},
			Labels:   map[string]string{podLabel: "true"},
			Linux:    &runtimeapi.LinuxContainerConfig{},
		},
	})
	cancel()
	if err != nil {
		return 0, Result{Name: name, Detail: fmt.Sprintf("CreateContainer from %s: %s", image, runtimeError(err))}
	}
	cid := ctr.GetContainerId()
	cctx, cancel = context.WithTimeout(ctx, podCallTimeout)
	_, err = rt.StartContainer(cctx, &runtimeapi.StartContainerRequest{ContainerId: cid})
	cancel()
	if err != nil {
		return 0, Result{Name: name, Detail: "StartContainer: " + runtimeError(err)}
	}
	cctx, cancel = context.WithTimeout(ctx, podCallTimeout)
	cs, err := rt.ContainerStatus(cctx, &runtimeapi.ContainerStatusRequest{ContainerId: cid, Verbose: true})
	cancel()
	if err != nil {
		return 0, Result{Name: name, Detail: "ContainerStatus: " + runtimeError(err)}
	}
	s := cs.GetStatus()
	switch state := s.GetState(); {
	case state == runtimeapi.ContainerState_CONTAINER_RUNNING:
		pid := infoPID(cs.GetInfo())
		return pid, Result{Name: name, OK: true, Detail: fmt.Sprintf("%.13s from %s running (pid %d)", cid, image, pid)}
	case state == runtimeapi.ContainerState_CONTAINER_EXITED && s.GetExitCode() == 0:
		return 0, Result{Name: name, OK: true, Detail: fmt.Sprintf("%.13s from %s ran its command and exited 0", cid, image)}
	default:
		return 0, Result{Name: name, Detail: fmt.Sprintf("%.13s from %s is %s (exit code %d, %s %s), not running",
			cid, image, strings.TrimPrefix(state.String(), "CONTAINER_"), s.GetExitCode(), s.GetReason(), s.GetMessage())}
	}
}

// checkCgroup checks that the pod's process sits where the cgroup driver
// puts the pod.
func checkCgroup(e PodExpect, h string, pid int, under string) Result {
	name := podCheck(h, "cgroup")
	cg, err := e.Probe.Cgroup(pid)
	if err != nil {
		return Result{Name: name, Detail: err.Error()}
	}
	if strings.HasPrefix(cg, under) {
		return Result{Name: name, OK: true, Detail: fmt.Sprintf("%s (%s driver)", cg, e.CgroupDriver)}
	}
	other := "systemd"
	if e.CgroupDriver != "cgroupfs" {
		other = "cgroupfs"
	}
	return Result{Name: name, Detail: fmt.Sprintf("the pod runs in %s, not under %s: containerd's runc uses the %s cgroup driver, while node.cgroup_driver (and the kubelet's cgroupDriver) is %s; check SystemdCgroup in containerd's config.toml (nodeup plan shows the drift) and restart containerd",
		cg, under, other, e.CgroupDriver)}
}

// checkNetns checks the pod's network namespace: loopback up, and an
// address from the CNI network when one is configured.
func checkNetns(e PodExpect, h string, pid int, ip string) Result {
	name := podCheck(h, "network")
	ifs, err := e.Probe.Netns(pid)
	if err != nil {
		return Result{Name: name, Detail: err.Error()}
	}
	var lo *Interface
	var addrs []string // routable: not loopback, not link-local
	for i := range ifs {
		if ifs[i].Name == "lo" {
			lo = &ifs[i]
			continue
		}
		for _, a := range ifs[i].Addrs {
			if ipa, _, err := net.ParseCIDR(a); err == nil && !ipa.IsLinkLocalUnicast() && !ipa.IsLoopback() {
				addrs = append(addrs, ifs[i].Name+" "+a)
			}
		}
	}
	switch {
	case lo == nil:
		return Result{Name: name, Detail: "the pod's network namespace has no lo; check the loopback CNI plugin in cni.bin_dir"}
	case !lo.Up:
		return Result{Name: name, Detail: "lo is down in the pod's network namespace; containerd brings it up with the loopback CNI plugin: check that it is in cni.bin_dir"}
	case e.RequireAddress && len(addrs) == 0 && ip == "":
		return Result{Name: name, Detail: "lo up, but the pod got no address from the CNI network; check the network list in cni.conf_dir and containerd's log (journalctl -u containerd)"}
	}
	detail := "lo up"
	if ip != "" {
		detail += ", pod IP " + ip
	}
	if len(addrs) > 0 {
		detail += " (" + strings.Join(addrs, ", ") + ")"
	} else if ip == "" {
		detail += ", no network configured"
	}
	return Result{Name: name, OK: true, Detail: detail}
}

// removePod stops and removes a sandbox and its containers. It runs even
// when ctx is cancelled (an interrupted verify), with its own deadline.
func removePod(ctx context.Context, c *Client, h, id string) Result {
	ctx = context.WithoutCancel(ctx)
	cctx, cancel := context.WithTimeout(ctx, podCallTimeout)
	defer cancel()
	if err := removeSandbox(cctx, c, id); err != nil {
		return Result{Name: podCheck(h, "cleanup"), Detail: fmt.Sprintf("pod sandbox %.13s: %v; remove it with crictl rmp -f %s", id, err, id)}
	}
	return Result{Name: podCheck(h, "cleanup"), OK: true, Detail: fmt.Sprintf("sandbox %.13s and its container removed", id)}
}

func removeSandbox(ctx context.Context, c *Client, id string) error {
	rt := c.Runtime()
	// Stopping the sandbox stops its containers and tears its network down;
	// removing it removes them.
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("StopPodSandbox: %s", runtimeError(err))
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("RemovePodSandbox: %s", runtimeError(err))
	}
	return nil
}

// removeLeftovers removes the pods of a verification that was killed
// before it could clean up. It fails (ok false) only when one cannot be
// removed.
func removeLeftovers(ctx context.Context, c *Client) (Result, bool) {
	return removePods(ctx, c, map[string]string{podLabel: "true"}, "")
}

// removePods removes the pods with labels (and uid, when given).
func removePods(ctx context.Context, c *Client, labels map[string]string, uid string) (Result, bool) {
	ctx = context.WithoutCancel(ctx)
	cctx, cancel := context.WithTimeout(ctx, podCallTimeout)
	defer cancel()
	list, err := c.Runtime().ListPodSandbox(cctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: labels}})
	if err != nil {
		return Result{Name: "pod leftovers", Detail: "ListPodSandbox: " + runtimeError(err)}, false
	}
	for _, sb := range list.GetItems() {
		if uid != "" && sb.GetMetadata().GetUid() != uid {
			continue
		}
		if err := removeSandbox(cctx, c, sb.GetId()); err != nil {
			return Result{Name: "pod leftovers", Detail: fmt.Sprintf("pod sandbox %.13s of an earlier verification: %v; remove it with crictl rmp -f %s", sb.GetId(), err, sb.GetId())}, false
		}
	}
	return Result{}, true
}

// sandboxHint explains the runtime's error where nodeup knows the cause.
func sandboxHint(err error, driver string) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "slice:prefix:name") && driver == "cgroupfs":
		return " (containerd's runc uses the systemd cgroup driver, while node.cgroup_driver is cgroupfs: check SystemdCgroup in containerd's config.toml)"
	case strings.Contains(msg, "seccomp not supported"):
		return " (the handler's runc was built without seccomp, and the kubelet asks for the runtime's default seccomp profile for every pod sandbox: install a runc release, which has seccomp)"
	case strings.Contains(msg, "/etc/hosts"):
		return " (the node has no /etc/hosts; pod sandboxes mount it: see nodeup facts)"
	}
	return ""
}

// runtimeError is the runtime's own message, without gRPC's wrapping.
func runtimeError(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, " desc = "); ok {
		return rest
	}
	return msg
}

// infoPID is the pid containerd reports in a verbose status's info.
func infoPID(info map[string]string) int {
	var v struct {
		Pid int `json:"pid"`
	}
	if raw, ok := info["info"]; ok && json.Unmarshal([]byte(raw), &v) == nil {
		return v.Pid
	}
	return 0
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
