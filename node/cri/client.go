// Package cri proves a container runtime works by asking it over CRI
// gRPC: Dial waits for the runtime's socket to answer, Check runs the
// verification checks of nodeup's contract (version, readiness, runtime
// handlers, cgroup driver, CNI plugins) and returns one Result per check.
package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultDialTimeout bounds Dial when the context has no deadline.
const DefaultDialTimeout = 60 * time.Second

// Client is a connection to a CRI runtime service.
type Client struct {
	Endpoint string // as given: unix:///run/containerd/containerd.sock
	Socket   string // the socket's path
	conn     *grpc.ClientConn
	runtime  runtimeapi.RuntimeServiceClient
	images   runtimeapi.ImageServiceClient
}

// Runtime is the CRI RuntimeService client.
func (c *Client) Runtime() runtimeapi.RuntimeServiceClient { return c.runtime }

// Images is the CRI ImageService client (containerd serves both on one socket).
func (c *Client) Images() runtimeapi.ImageServiceClient { return c.images }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// SocketPath returns the socket path of a unix:// endpoint (a bare
// absolute path is accepted too).
func SocketPath(endpoint string) (string, error) {
	p := endpoint
	switch {
	case strings.HasPrefix(endpoint, "unix://"):
		p = strings.TrimPrefix(endpoint, "unix://")
	case strings.Contains(endpoint, "://"):
		return "", fmt.Errorf("CRI endpoint %q: only unix:// endpoints are supported", endpoint)
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("CRI endpoint %q: socket path must be absolute", endpoint)
	}
	return p, nil
}

// Dial connects to the CRI endpoint and waits, until the context's
// deadline (DefaultDialTimeout if it has none), for the socket to appear
// and answer Version. A runtime that was just started needs that time.
func Dial(ctx context.Context, endpoint string) (*Client, error) {
	sock, err := SocketPath(endpoint)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultDialTimeout)
		defer cancel()
	}
	start := time.Now()

	conn, err := grpc.NewClient("unix://"+sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, fmt.Errorf("CRI endpoint %s: %w", endpoint, err)
	}
	c := &Client{Endpoint: endpoint, Socket: sock, conn: conn, runtime: runtimeapi.NewRuntimeServiceClient(conn), images: runtimeapi.NewImageServiceClient(conn)}

	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if _, serr := os.Stat(sock); serr != nil {
			last = serr
		} else {
			// A short per-attempt deadline: grpc backs off between
			// reconnects, and we would rather poll ourselves.
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.runtime.Version(actx, &runtimeapi.VersionRequest{})
			cancel()
			if err == nil {
				return c, nil
			}
			last = err
			conn.Connect()
		}
		select {
		case <-ctx.Done():
			conn.Close()
			return nil, dialError(sock, time.Since(start).Round(100*time.Millisecond), last)
		case <-tick.C:
		}
	}
}

// DialError is a CRI socket that did not appear or answer in time.
type DialError struct {
	Socket  string
	Waited  time.Duration
	Missing bool // the socket never appeared
	Err     error
}

func (e *DialError) Error() string {
	what := "did not answer"
	if e.Missing {
		what = "did not appear"
	}
	return fmt.Sprintf("CRI socket %s %s within %s: %v (check the runtime's log: journalctl -u containerd)", e.Socket, what, e.Waited, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

func dialError(sock string, waited time.Duration, last error) error {
	if last == nil {
		last = context.DeadlineExceeded
	}
	return &DialError{Socket: sock, Waited: waited, Missing: errors.Is(last, os.ErrNotExist), Err: last}
}
