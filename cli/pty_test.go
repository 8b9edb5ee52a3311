package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

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

// On a terminal, plans are coloured: + green, ~ yellow, - red, diff lines
// too; NO_COLOR, TERM=dumb and --no-color each turn every colour off,
// diagnostics' included.
func TestColourOnATerminal(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	base := append([]string{"TERM=xterm"}, environ...)
	code, screen := onTerminal(t, base, "plan", profile, "--root", root, "--phase", "bake", "--verbose")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, screen)
	}
	for _, want := range []string{"\x1b[32m+\x1b[0m file:/etc/containerd/config.toml: create", "\x1b[36m.\x1b[0m verify:cri: skip", "\x1b[32m+version = 4\x1b[0m", "\x1b[1m+++ /etc/containerd/config.toml\x1b[0m"} {
		if !strings.Contains(screen, want) {
			t.Errorf("plan on a terminal lacks %q:\n%q", want, screen)
		}
	}
	_, screen = onTerminal(t, base, "validate", "../plan/testdata/invalid/many_errors.hcl")
	if !strings.Contains(screen, "\x1b[") {
		t.Errorf("diagnostics on a terminal are not coloured:\n%q", screen)
	}

	for name, c := range map[string]struct {
		env  []string
		args []string
	}{
		"NO_COLOR":   {append([]string{"NO_COLOR=1", "TERM=xterm"}, environ...), nil},
		"TERM=dumb":  {append([]string{"TERM=dumb"}, environ...), nil},
		"--no-color": {base, []string{"--no-color"}},
	} {
		for _, args := range [][]string{{"plan", profile, "--root", root, "--phase", "bake"}, {"validate", "../plan/testdata/invalid/many_errors.hcl"}} {
			_, screen := onTerminal(t, c.env, append(args, c.args...)...)
			if strings.Contains(screen, "\x1b") {
				t.Errorf("%s: %s prints escape codes:\n%q", name, args[0], screen)
			}
		}
	}
}

// emulate plays what nodeup wrote to a terminal the way a terminal shows
// it, for the sequences nodeup writes (colours, carriage return, cursor
// up, erase to the end of the screen), and calls seen with the screen
// each time the bars are about to be redrawn.
func emulate(out string, seen func(lines []string)) []string {
	lines := []string{""}
	row := 0
	sgr := regexp.MustCompile(`^\x1b\[[0-9;]*m`)
	up := regexp.MustCompile(`^\x1b\[(\d+)A`)
	for i := 0; i < len(out); {
		rest := out[i:]
		switch {
		case sgr.MatchString(rest):
			i += len(sgr.FindString(rest))
		case up.MatchString(rest):
			m := up.FindStringSubmatch(rest)
			n, _ := strconv.Atoi(m[1])
			row = max(0, row-n)
			i += len(m[0])
		case strings.HasPrefix(rest, "\x1b[J"):
			if seen != nil {
				seen(lines) // the bars, before they are erased
			}
			lines = append(lines[:row], "")
			i += 3
		case rest[0] == '\r':
			lines[row] = ""
			i++
		case rest[0] == '\n':
			row++
			if row == len(lines) {
				lines = append(lines, "")
			}
			i++
		default:
			r, size := utf8.DecodeRuneInString(rest)
			lines[row] += string(r)
			i += size
		}
	}
	if seen != nil {
		seen(lines)
	}
	return lines
}

// On a terminal an apply shows each download as a bar of its own line; a
// finished download leaves one line, and each step's line appears as it
// finishes.
func TestLiveApplyOnATerminal(t *testing.T) {
	// Every artifact's download, each from a host of its own, holds at its
	// half until all four have begun, so four bars are on the screen
	// together.
	var mu sync.Mutex
	begun := 0
	all := make(chan struct{})
	profile := testProfileOn(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		mu.Lock()
		if begun++; begun == 4 {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-r.Context().Done():
			return
		}
		w.Write(b[len(b)/2:])
	}, true)
	code, screen := onTerminal(t, append([]string{"TERM=xterm"}, environ...), "apply", profile, "--root", t.TempDir(), "--phase", "bake", "--parallelism", "16")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, screen)
	}
	mostBars, busiest := 0, ""
	final := emulate(screen, func(lines []string) {
		bars := 0
		for _, l := range lines {
			if strings.Contains(l, " / ") && strings.Contains(l, "/s") {
				bars++
			}
		}
		if bars > mostBars {
			mostBars, busiest = bars, strings.Join(lines[max(0, len(lines)-12):], "\n")
		}
	})
	if mostBars < 1 {
		t.Errorf("no bar on the screen:\n%s", strings.Join(final, "\n"))
	}
	text := strings.Join(final, "\n")
	for _, name := range []string{"containerd.tar.gz", "runc.amd64", "cni.tgz", "kubelet"} {
		if n := strings.Count(text, "✓ downloaded "+name+": "); n != 1 {
			t.Errorf("%d lines say %s was downloaded:\n%s", n, name, text)
		}
	}
	for _, want := range []string{"+ artifact:containerd: create (", "+ file:/etc/containerd/config.toml: create (", "Apply: "} {
		if !strings.Contains(text, want) {
			t.Errorf("the screen lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, " / ") {
		t.Errorf("a bar is left on the screen:\n%s", text)
	}
	t.Logf("the bottom of the screen with %d downloads running:\n%s", mostBars, busiest)
	t.Logf("the screen after apply:\n%s", text)
}

// Bars of parallel downloads each keep a line at the bottom; lines written
// meanwhile go above them, whole; a finished download leaves one line.
func TestScreenKeepsBarsBelowTheOutput(t *testing.T) {
	ptmx, pts := openPTY(t)
	c := capture(ptmx)
	s := newScreen(pts, false, func(s string) string { return s })
	out := s.writer(pts)
	a := s.Bar("containerd.tar.gz", 1000)
	b := s.Bar("kata-static.tar.zst", 4000)
	k := s.Bar("kubelet", -1)
	a.Add(500)
	b.Add(1000)
	k.Add(10)
	io.WriteString(out, "+ file:/etc/containerd/config.toml: create ")
	io.WriteString(out, "(3ms) new file\n") // one line, though written in two parts
	var during []string
	seenOnce := false
	a.Done(nil)
	b.Done(fmt.Errorf("HTTP 503 \x1b[2J"))
	k.Done(nil)
	s.close()
	final := emulate(c.closeAndRead(pts), func(lines []string) {
		// Just before the first download ends.
		if !seenOnce && len(lines) > 0 && strings.HasPrefix(lines[0], "+ file:") {
			during, seenOnce = append([]string(nil), lines...), true
			if n := len(during); n > 0 && during[n-1] == "" {
				during = during[:n-1]
			}
		}
	})
	if len(during) < 4 || !strings.HasPrefix(during[len(during)-4], "+ file:/etc/containerd/config.toml: create (3ms) new file") ||
		!strings.HasPrefix(during[len(during)-3], "containerd.tar.gz            [============>           ] 500 B / 1000 B") ||
		!strings.HasPrefix(during[len(during)-2], "kata-static.tar.zst          [======>                 ] 1000 B / 3.9 KiB") ||
		!strings.HasPrefix(during[len(during)-1], "kubelet                      10 B / unknown size") {
		t.Errorf("the screen with three downloads running:\n%s", strings.Join(during, "\n"))
	}
	want := []string{
		"+ file:/etc/containerd/config.toml: create (3ms) new file",
		"✓ downloaded containerd.tar.gz: 500 B in ",
		`✗ kata-static.tar.zst failed after 1000 B of 3.9 KiB: HTTP 503 \x1b[2J`,
		"✓ downloaded kubelet: 10 B in ",
		"",
	}
	if len(final) != len(want) {
		t.Fatalf("the screen at the end:\n%s", strings.Join(final, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(final[i], w) {
			t.Errorf("line %d: %q, want %q...", i, final[i], w)
		}
	}
}
