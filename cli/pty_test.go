package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: what a program writes to pts, a reader
// of ptmx sees, as a terminal emulator would. It skips the test where
// there are none.
func openPTY(t *testing.T) (ptmx, pts *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	if !isTerminal(pts) {
		t.Skip("the pseudo-terminal is not a terminal here")
	}
	// A wide screen, so lines are not cut.
	_ = unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 200})
	return ptmx, pts
}

// screenCapture collects what reaches the terminal.
type screenCapture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

// capture reads ptmx until the terminal is closed; String waits for
// that.
func capture(ptmx *os.File) *screenCapture {
	c := &screenCapture{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// closeAndRead closes the terminal side and returns everything written.
func (c *screenCapture) closeAndRead(pts *os.File) string {
	pts.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.ReplaceAll(c.buf.String(), "\r\n", "\n")
}

// onTerminal runs a command line with stdout and stderr on one
// pseudo-terminal and returns the exit code and the screen's bytes.
func onTerminal(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ptmx, pts := openPTY(t)
	c := capture(ptmx)
	code := Run(args, Streams{In: strings.NewReader(""), Out: pts, Err: pts}, env)
	return code, c.closeAndRead(pts)
}

var _ io.Writer = (*screenWriter)(nil)

func TestWrappedStreamsStayTerminals(t *testing.T) {
	_, pts := openPTY(t)
	inv := newInvocation(Streams{Out: pts, Err: pts}, nil, system{})
	if err := inv.setup(inv.rootCommand()); err != nil {
		t.Fatal(err)
	}
	if !terminal(inv.out) || !terminal(inv.err) || inv.screen == nil {
		t.Errorf("a terminal behind the stream wrappers is not seen as one")
	}
	inv = newInvocation(Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, nil, system{})
	inv.setup(inv.rootCommand())
	if terminal(inv.err) || inv.screen != nil {
		t.Errorf("a buffer is seen as a terminal")
	}
}
