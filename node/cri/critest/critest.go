// Package critest serves a fake CRI runtime on a unix socket, for the unit
// tests of packages that verify a node over CRI.
package critest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Runtime answers what nodeup's verification asks: Version, Status with
// its conditions and handlers, RuntimeConfig's cgroup driver, and (with
// Pods) the pod and container calls of a pod check.
type Runtime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	Handlers     []string
	CgroupDriver runtimeapi.CgroupDriver
	NetworkReady bool
	// NotReady reports the RuntimeReady condition false.
	NotReady bool
	// Errors answered instead of a response, to make checks fail. A
	// RuntimeConfigErr of codes.Unimplemented is an older runtime's answer.
	VersionErr, StatusErr, RuntimeConfigErr error
	// Images, when set, is served as the CRI ImageService on the same socket.
	Images *Images
	// Pods, when set, answers the pod and container calls.
	Pods *Pods
}

// Images is a fake CRI image store: references and their image IDs.
type Images struct {
	runtimeapi.UnimplementedImageServiceServer
	mu   sync.Mutex
	refs map[string]string // reference -> image ID
	// PullErr is answered to every PullImage; nil pulls succeed and give
	// the image the ID "sha256:pulled-<ref>".
	PullErr error
	// Pulled lists the references pulled, in order.
	Pulled []string
	// Lag is how many ImageStatus calls after an Add still answer that the
	// image is absent, as containerd's CRI does until the event of an
	// import reaches it.
	Lag  int
	lags map[string]int
}

// Add puts an image in the store, as an import would.
func (im *Images) Add(ref, id string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.refs == nil {
		im.refs = map[string]string{}
	}
	im.refs[ref] = id
	if im.Lag > 0 {
		if im.lags == nil {
			im.lags = map[string]int{}
		}
		im.lags[ref] = im.Lag
	}
}

// Has reports whether ref is in the store.
func (im *Images) Has(ref string) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	_, ok := im.refs[ref]
	return ok
}

// ID is the image ID of ref in the store, "" when it has none.
func (im *Images) ID(ref string) string {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.refs[ref]
}

func (im *Images) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	ref := req.GetImage().GetImage()
	id, ok := im.refs[ref]
	if im.lags[ref] > 0 {
		im.lags[ref]--
		ok = false
	}
	if !ok {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: id, RepoTags: []string{ref}}}, nil
}

func (im *Images) PullImage(_ context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	ref := req.GetImage().GetImage()
	im.mu.Lock()
	im.Pulled = append(im.Pulled, ref)
	err := im.PullErr
	im.mu.Unlock()
	if err != nil {
		return nil, err
	}
	im.Add(ref, "sha256:pulled-"+ref)
	return &runtimeapi.PullImageResponse{ImageRef: "sha256:pulled-" + ref}, nil
}

func (r *Runtime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	if r.VersionErr != nil {
		return nil, r.VersionErr
	}
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "containerd", RuntimeVersion: "v2.3.4", RuntimeApiVersion: "v1"}, nil
}

func (r *Runtime) Status(context.Context, *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	if r.StatusErr != nil {
		return nil, r.StatusErr
	}
	network := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: true}
	if !r.NetworkReady {
		network = &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: false, Reason: "NetworkPluginNotReady", Message: "cni plugin not initialized"}
	}
	ready := &runtimeapi.RuntimeCondition{Type: runtimeapi.RuntimeReady, Status: true}
	if r.NotReady {
		ready = &runtimeapi.RuntimeCondition{Type: runtimeapi.RuntimeReady, Status: false, Reason: "ContainerdNotReady"}
	}
	resp := &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{ready, network}}}
	for _, h := range r.Handlers {
		resp.RuntimeHandlers = append(resp.RuntimeHandlers, &runtimeapi.RuntimeHandler{Name: h})
	}
	return resp, nil
}

func (r *Runtime) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	if r.RuntimeConfigErr != nil {
		return nil, r.RuntimeConfigErr
	}
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: r.CgroupDriver}}, nil
}

// Serve runs r on a unix socket in a fresh temp dir until the test ends and
// returns the socket's path.
func Serve(t testing.TB, r *Runtime) string {
	t.Helper()
	// Socket paths are limited to 108 bytes; t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "cri")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "containerd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(s, r)
	if r.Images != nil {
		runtimeapi.RegisterImageServiceServer(s, r.Images)
	}
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return sock
}
