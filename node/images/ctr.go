package images

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Namespace is the containerd namespace the CRI, and so the kubelet, uses.
const Namespace = "k8s.io"

// ImportError is an archive ctr could not import, with what ctr said.
type ImportError struct {
	Archive string
	Ctr     string
	Err     error
	Output  string
}

func (e *ImportError) Error() string {
	msg := fmt.Sprintf("%s images import %s: %v", e.Ctr, e.Archive, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *ImportError) Unwrap() error { return e.Err }

// Import imports the archive into containerd's k8s.io namespace with the
// installed ctr, talking to containerd at socket: the images it names are
// created (or moved to the archive's content) and unpacked.
func Import(ctx context.Context, ctr, socket, archive string) error {
	cmd := exec.CommandContext(ctx, ctr, "--address", socket, "--namespace", Namespace, "images", "import", archive)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &ImportError{Archive: archive, Ctr: ctr, Err: err, Output: lastLines(string(out), 5)}
	}
	return nil
}

// lastLines keeps the end of a command's output, where the error is.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
