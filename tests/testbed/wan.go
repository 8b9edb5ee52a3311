package testbed

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The WAN's addresses, in a range no other test uses (the fleet test has 10.231.7.0/24).
// The nodes' side is the lower half, the region's (the mirror, and the address of a
// mirror that is gone) the upper half.
const (
	wanRouter  = "10.231.9.1"    // the nodes' gateway, on the router's bridge
	wanSite    = "10.231.9.0/25" // the nodes: wanRouter, then .wanNodeMin to .wanNodeMax
	wanRegion  = "10.231.9.128/25"
	wanMirror  = "10.231.9.130"
	wanDead    = "10.231.9.131"
	wanPort    = "8080"
	wanNodeMin = 10
	wanNodeMax = 126
)

// WANOptions shape the link between the nodes and the mirror; zero values take the
// defaults.
type WANOptions struct {
	Delay time.Duration // one way; default 20ms (a 40 ms round trip)
	Rate  int64         // bits per second, each way; default 200 Mbit/s
	// Queue is the longest a packet may wait for the link before it is dropped (a
	// router's buffer, as time at the link's rate); default the round trip.
	Queue time.Duration
	// Congestion is the mirror's TCP congestion control; default "cubic", as on a
	// Debian or Ubuntu server (this machine's kernel defaults to bbr, which keeps
	// sending into a full queue and loses a tenth of its packets at a shallow one).
	Congestion string
}

func (o WANOptions) withDefaults() WANOptions {
	if o.Delay == 0 {
		o.Delay = 20 * time.Millisecond
	}
	if o.Rate == 0 {
		o.Rate = 200_000_000
	}
	if o.Queue == 0 {
		o.Queue = 2 * o.Delay
	}
	if o.Congestion == "" {
		o.Congestion = "cubic"
	}
	return o
}

// WAN is the artifact mirror as a fleet's nodes reach it in a cloud region: an HTTP
// server in a network namespace of its own, across a link that delays and limits every
// packet, behind a router whose bridge the nodes join (Attach). The link is wanlink, a
// process of its own between two TUN devices, one in the router's namespace and one in
// the mirror's: it holds each packet for the link's rate (one after the other, so the
// nodes share it) and its delay, and drops what would wait longer than the queue (this
// machine's kernel has no netem). The server counts every byte of every response body
// it sends. Everything is removed when the test ends; namespaces left by a test process
// killed outright are removed by the next NewWAN.
type WAN struct {
	Options WANOptions
	// URL is the mirror as the nodes reach it; DeadURL a mirror across the same link
	// that is gone: packets to it vanish, so a connection to it never completes.
	URL, DeadURL string
	// RTT is the time the first Attach took to connect to the mirror from its node
	// (once the link is up and the router's address known).
	RTT time.Duration

	router, mirror string // namespace names
	served         atomic.Int64
	requests       atomic.Int64
	link           *linkProc
	next           int // the next node address, wanNodeMin..wanNodeMax
	ports          int
}

// NewWAN builds the WAN and starts the mirror (Mirror(t)) on it.
func NewWAN(t testing.TB, o WANOptions) *WAN {
	t.Helper()
	requireRoot(t)
	dir := Mirror(t)
	reapStaleWANs()
	w := &WAN{Options: o.withDefaults(), URL: "http://" + wanMirror + ":" + wanPort,
		DeadURL: "http://" + wanDead + ":" + wanPort, next: wanNodeMin}
	id := fmt.Sprintf("nodeup-wan-%s-%d", procID{os.Getpid(), startTime(os.Getpid())}, wanCount.Add(1))
	id = strings.ReplaceAll(id, ":", ".")
	w.router, w.mirror = id+"-router", id+"-mirror"
	for _, ns := range []string{w.router, w.mirror} {
		mustIP(t, "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		mustIP(t, "-n", ns, "link", "set", "lo", "up")
	}
	// The router: a bridge for the nodes, forwarding to the region across the link.
	mustIP(t, "-n", w.router, "link", "add", "br0", "type", "bridge")
	mustIP(t, "-n", w.router, "addr", "add", wanRouter+"/25", "dev", "br0")
	mustIP(t, "-n", w.router, "link", "set", "br0", "up")
	if err := inNetns(nsPath(w.router), func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}); err != nil {
		t.Fatalf("testbed: WAN: forwarding in the router: %v", err)
	}

	w.startLink(t)
	// The region: the mirror's address, the way back to the nodes, and the dead mirror's
	// address, whose packets are dropped without a word.
	mustIP(t, "-n", w.router, "link", "set", "wan", "up")
	mustIP(t, "-n", w.router, "route", "add", wanRegion, "dev", "wan")
	mustIP(t, "-n", w.router, "link", "set", "wanm", "netns", w.mirror)
	mustIP(t, "-n", w.mirror, "addr", "add", wanMirror+"/32", "dev", "wanm")
	mustIP(t, "-n", w.mirror, "link", "set", "wanm", "up")
	mustIP(t, "-n", w.mirror, "route", "add", wanSite, "dev", "wanm")
	mustIP(t, "-n", w.mirror, "route", "add", "blackhole", wanDead+"/32")
	w.serve(t, dir)
	return w
}

var wanCount atomic.Int64

// startLink opens the link's two TUN devices in the router's namespace ("wan" stays
// there, "wanm" goes to the mirror's) and starts wanlink between them. The devices go
// when wanlink exits, at the end of the test or with this process.
func (w *WAN) startLink(t testing.TB) {
	bin := filepath.Join(t.TempDir(), "wanlink")
	dir, err := scriptPath("wanlink")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("testbed: WAN: go build wanlink: %v\n%s", err, out)
	}
	var tuns [2]*os.File
	err = inNetns(nsPath(w.router), func() error {
		for i, name := range []string{"wan", "wanm"} {
			fd, err := openTUN(name)
			if err != nil {
				return fmt.Errorf("TUN %s: %w", name, err)
			}
			tuns[i] = os.NewFile(uintptr(fd), "tun:"+name)
		}
		return nil
	})
	defer func() {
		for _, f := range tuns {
			if f != nil {
				f.Close()
			}
		}
	}()
	if err != nil {
		t.Fatalf("testbed: WAN: %v", err)
	}
	o := w.Options
	cmd := exec.Command(bin, "-delay", o.Delay.String(), "-rate", strconv.FormatInt(o.Rate, 10), "-queue", o.Queue.String())
	cmd.ExtraFiles = tuns[:]
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testbed: WAN: %v", err)
	}
	w.link = &linkProc{in: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
}

// linkProc is the running wanlink, asked for its counts over its stdin and stdout.
type linkProc struct {
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Reader
}

// LinkStats is what the link has done so far.
type LinkStats struct {
	DroppedUp, DroppedDown int64         // packets dropped at a full queue, towards the mirror and the nodes
	Sent                   int64         // packets carried, both ways
	Late                   time.Duration // the most a packet arrived after its time
	LateOver1ms            int64         // packets that arrived more than 1 ms after their time
	Scheduling             string        // the link's threads: SCHED_FIFO, or nice-15 where refused
}

func (l *linkProc) stats() LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s LinkStats
	var late int64
	if _, err := io.WriteString(l.in, "\n"); err != nil {
		return s
	}
	line, _ := l.out.ReadString('\n')
	_, _ = fmt.Sscan(line, &s.DroppedUp, &s.DroppedDown, &late, &s.Scheduling, &s.LateOver1ms, &s.Sent)
	s.Late = time.Duration(late)
	return s
}

// serve starts the counting HTTP server on the mirror's address, in its namespace.
func (w *WAN) serve(t testing.TB, dir string) {
	var ln net.Listener
	// Connections take the listener's congestion control (set per socket: a network
	// namespace of its own may only choose among the host's allowed ones).
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, w.Options.Congestion)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	err := inNetns(nsPath(w.mirror), func() (err error) {
		ln, err = lc.Listen(context.Background(), "tcp", wanMirror+":"+wanPort)
		return err
	})
	if err != nil {
		t.Fatalf("testbed: WAN: the mirror's server: %v", err)
	}
	files := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		files.ServeHTTP(countingWriter{rw, &w.served}, r)
	}), ReadHeaderTimeout: time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
}

// Served is what the mirror has sent since NewWAN: response body bytes and requests.
type Served struct{ Bytes, Requests int64 }

// Served says what the mirror has sent so far; subtract an earlier value for one run's.
func (w *WAN) Served() Served {
	return Served{Bytes: w.served.Load(), Requests: w.requests.Load()}
}

// Link says what the link has done so far. It is a process on this machine, and a
// busy machine can hold its packets up: Late and LateOver1ms say by how much.
func (w *WAN) Link() LinkStats { return w.link.stats() }

func (w *WAN) String() string {
	return fmt.Sprintf("%v each way (%v round trip), %g Mbit/s each way, queue %v, the mirror's TCP %s, the link's threads %s",
		w.Options.Delay, 2*w.Options.Delay, float64(w.Options.Rate)/1e6, w.Options.Queue, w.Options.Congestion, w.link.stats().Scheduling)
}

// Attach joins a running node to the WAN: an eth0 on the router's bridge with the next
// free address and a route to the region. It checks that the node reaches the mirror
// and returns the node's address.
func (w *WAN) Attach(t testing.TB, n *Node) string {
	t.Helper()
	addr := wanPrefix() + strconv.Itoa(w.next)
	w.next++
	if w.next > wanNodeMax {
		w.next = wanNodeMin
	}
	w.ports++
	port := "n" + strconv.Itoa(w.ports)
	inNode := func(args ...string) {
		t.Helper()
		if out, err := n.InNetwork(args...).CombinedOutput(); err != nil {
			t.Fatalf("testbed: WAN: node %s: %s: %v\n%s", n.Name, strings.Join(args, " "), err, out)
		}
	}
	inNode("ip", "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", w.router)
	mustIP(t, "-n", w.router, "link", "set", port, "master", "br0", "up")
	inNode("ip", "addr", "add", addr+"/25", "dev", "eth0")
	inNode("ip", "link", "set", "eth0", "up")
	inNode("ip", "route", "add", wanRegion, "via", wanRouter)
	n.mu.Lock()
	pid := n.pid
	n.mu.Unlock()
	// Once eth0 has its carrier, the first connection may wait for ARP; the second is
	// the round trip.
	var took time.Duration
	err := inNetns(fmt.Sprintf("/proc/%d/ns/net", pid), func() error {
		err := waitCarrier("eth0", 10*time.Second)
		if err == nil {
			_, err = headManifest(w.URL)
		}
		if err == nil {
			took, err = headManifest(w.URL)
		}
		return err
	})
	if err != nil {
		t.Fatalf("testbed: WAN: node %s does not reach the mirror: %v", n.Name, err)
	}
	if w.RTT == 0 {
		w.RTT = took
	}
	return addr
}

func wanPrefix() string { return strings.TrimSuffix(wanRouter, "1") }

// waitCarrier waits, in the calling thread's network namespace, until interface name
// has its carrier: a veth's comes up a moment after both ends are up, and until then
// a route through it is unreachable. It listens to the kernel's link notifications
// (subscribed before it looks, so none is missed) rather than polling.
func waitCarrier(name string, timeout time.Duration) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		return err
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil || ifi.Flags&net.FlagRunning != 0 {
		return err
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("%s has no carrier after %v: %w", name, timeout, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			// struct ifinfomsg: family, pad, type (2 bytes), index (4), flags (4), change (4)
			if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < 16 {
				continue
			}
			index, flags := int32(binary.NativeEndian.Uint32(m.Data[4:8])), binary.NativeEndian.Uint32(m.Data[8:12])
			if int(index) == ifi.Index && flags&unix.IFF_RUNNING != 0 {
				return nil
			}
		}
	}
}

// headManifest connects to the mirror and asks for its manifest's headers, in the
// calling thread's network namespace (net.Dial creates its socket in the caller; an
// http.Client would dial from another goroutine). It returns the time to connect.
func headManifest(base string) (time.Duration, error) {
	host := strings.TrimPrefix(base, "http://")
	start := time.Now()
	c, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "HEAD /manifest.tsv HTTP/1.0\r\nHost: %s\r\n\r\n", host); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HEAD %s/manifest.tsv: %s", base, resp.Status)
	}
	return took, nil
}

// countingWriter counts the body bytes written through it, also those sent by
// sendfile (ReadFrom).
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (c countingWriter) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{c.ResponseWriter}, r)
	}
	c.n.Add(n)
	return n, err
}

// openTUN creates the TUN device name (IP packets, no header) in the calling thread's
// network namespace, non-blocking. The device goes when the descriptor is closed.
func openTUN(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, err
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func nsPath(name string) string { return filepath.Join("/run/netns", name) }

// inNetns runs fn on a thread of its own in the network namespace at path, then puts
// the thread back in this process's namespace. Sockets and devices fn creates stay in
// the namespace. A thread that cannot be put back is left to end with fn (locked):
// and a child process started from a thread that ends gets its parent-death signal,
// so the threads are put back rather than let go.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		f, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		err = fn()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func mustIP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("testbed: WAN: ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// reapStaleWANs removes the namespaces of WANs whose test process is gone.
func reapStaleWANs() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "nodeup-wan-")
		if !ok {
			continue
		}
		fields := strings.SplitN(rest, "-", 2)
		pid, start, _ := strings.Cut(fields[0], ".")
		p, _ := strconv.Atoi(pid)
		s, _ := strconv.ParseUint(start, 10, 64)
		if !(procID{p, s}).running() {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}
