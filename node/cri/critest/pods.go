package critest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Pods is the pod side of the fake runtime: sandboxes and containers that
// "run" as far as the CRI can tell. Runtime serves it when Runtime.Pods is set.
type Pods struct {
	// Handlers that run pods; RunPodSandbox fails for others as containerd does.
	Handlers []string
	// SandboxErr is RunPodSandbox's answer per handler, to make a pod fail.
	SandboxErr map[string]error
	// PodIP is the sandbox's address ("" without a network).
	PodIP string
	// PID is the pid the verbose ContainerStatus reports.
	PID int
	// SandboxPID is the pid the verbose PodSandboxStatus reports (0: none).
	SandboxPID int
	// Exits makes every container exit at once with code 1; ExitsOK with
	// code 0, as an image whose default command ends at once (busybox's sh).
	Exits, ExitsOK bool
	// BeforeStart, when set, runs inside StartContainer (to interrupt a check).
	BeforeStart func()
	// Images, when set, must hold a container's image.
	Images *Images

	mu         sync.Mutex
	next       int
	sandboxes  map[string]*runtimeapi.PodSandboxConfig
	containers map[string]string // container -> sandbox
	// Parents lists the cgroup parent of each sandbox run, in order.
	Parents []string
	// Seccomp lists the seccomp profile type asked for each sandbox run.
	Seccomp []runtimeapi.SecurityProfile_ProfileType
}

// Live counts the sandboxes and containers not removed yet.
func (p *Pods) Live() (sandboxes, containers int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sandboxes), len(p.containers)
}

// Leave puts a sandbox in place as a killed verification would leave it.
func (p *Pods) Leave(labels map[string]string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addSandbox(&runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "left", Uid: "left"}, Labels: labels})
}

func (p *Pods) addSandbox(cfg *runtimeapi.PodSandboxConfig) string {
	if p.sandboxes == nil {
		p.sandboxes, p.containers = map[string]*runtimeapi.PodSandboxConfig{}, map[string]string{}
	}
	p.next++
	id := fmt.Sprintf("sandbox%06d", p.next)
	p.sandboxes[id] = cfg
	return id
}

func (r *Runtime) pods() (*Pods, error) {
	if r.Pods == nil {
		return nil, status.Error(codes.Unimplemented, "pods not served by this fake")
	}
	return r.Pods, nil
}

func (r *Runtime) RunPodSandbox(_ context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	p, err := r.pods()
	if err != nil {
		return nil, err
	}
	h := req.GetRuntimeHandler()
	if err := p.SandboxErr[h]; err != nil {
		return nil, err
	}
	known := false
	for _, k := range p.Handlers {
		known = known || k == h
	}
	if !known {
		return nil, status.Errorf(codes.Unknown, "failed to get sandbox runtime: no runtime for %q is configured", h)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Parents = append(p.Parents, req.GetConfig().GetLinux().GetCgroupParent())
	p.Seccomp = append(p.Seccomp, req.GetConfig().GetLinux().GetSecurityContext().GetSeccomp().GetProfileType())
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: p.addSandbox(req.GetConfig())}, nil
}

func (r *Runtime) PodSandboxStatus(_ context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	p, err := r.pods()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, ok := p.sandboxes[req.GetPodSandboxId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "an error occurred when try to find sandbox %q: not found", req.GetPodSandboxId())
	}
	st := &runtimeapi.PodSandboxStatus{Id: req.GetPodSandboxId(), Metadata: cfg.GetMetadata(), State: runtimeapi.PodSandboxState_SANDBOX_READY, Labels: cfg.GetLabels()}
	if p.PodIP != "" {
		st.Network = &runtimeapi.PodSandboxNetworkStatus{Ip: p.PodIP}
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: st}
	if req.GetVerbose() && p.SandboxPID > 0 {
		info, _ := json.Marshal(map[string]any{"pid": p.SandboxPID})
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

func (r *Runtime) CreateContainer(_ context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	p, err := r.pods()
	if err != nil {
		return nil, err
	}
	if p.Images != nil && !p.Images.Has(req.GetConfig().GetImage().GetImage()) {
		return nil, status.Errorf(codes.NotFound, "failed to get image %q: not found", req.GetConfig().GetImage().GetImage())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.sandboxes[req.GetPodSandboxId()]; !ok {
		return nil, status.Errorf(codes.NotFound, "sandbox %q not found", req.GetPodSandboxId())
	}
	p.next++
	id := fmt.Sprintf("container%06d", p.next)
	p.containers[id] = req.GetPodSandboxId()
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

func (r *Runtime) StartContainer(_ context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	p, err := r.pods()
	if err != nil {
		return nil, err
	}
	if p.BeforeStart != nil {
		p.BeforeStart()
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

func (r *Runtime) ContainerStatus(_ context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	p, err := r.pods()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	_, ok := p.containers[req.GetContainerId()]
	p.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %q not found", req.GetContainerId())
	}
	st := &runtimeapi.ContainerStatus{Id: req.GetContainerId(), State: runtimeapi.ContainerState_CONTAINER_RUNNING}
	switch {
	case p.Exits:
		st.State, st.ExitCode, st.Reason = runtimeapi.ContainerState_CONTAINER_EXITED, 1, "Error"
	case p.ExitsOK:
		st.State, st.ExitCode, st.Reason = runtimeapi.ContainerState_CONTAINER_EXITED, 0, "Completed"
	}
	info, _ := json.Marshal(map[string]any{"pid": p.PID})
	return &runtimeapi.ContainerStatusResponse{Status: st, Info: map[string]string{"info": string(info)}}, nil
}

func (r *Runtime) StopPodSandbox(_ context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	if _, err := r.pods(); err != nil {
		return nil, err
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (r *Runtime) RemovePodSandbox(_ context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	p, err := r.pods()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sandboxes, req.GetPodSandboxId())
	for c, sb := range p.containers {
		if sb == req.GetPodSandboxId() {
			delete(p.containers, c)
		}
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func (r *Runtime) ListPodSandbox(_ context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	p, err := r.pods()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for id, cfg := range p.sandboxes {
		match := true
		for k, v := range req.GetFilter().GetLabelSelector() {
			match = match && cfg.GetLabels()[k] == v
		}
		if match {
			out = append(out, &runtimeapi.PodSandbox{Id: id, Metadata: cfg.GetMetadata(), Labels: cfg.GetLabels()})
		}
	}
	return &runtimeapi.ListPodSandboxResponse{Items: out}, nil
}
