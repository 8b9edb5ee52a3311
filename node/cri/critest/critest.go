// Package critest serves a fake CRI runtime on a unix socket, for the unit
// tests of packages that verify a node over CRI.
package critest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Runtime answers what nodeup's verification asks: Version, Status with
// its conditions and handlers, and RuntimeConfig's cgroup driver.
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
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return sock
}
