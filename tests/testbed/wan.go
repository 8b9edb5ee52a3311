package testbed

import (
	"bufio"
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
	return o
}

// WAN is the artifact mirror as a fleet's nodes reach it in a cloud region: an HTTP
// server in a network namespace of its own, across a link that delays and limits every
// packet, behind a router whose bridge the nodes join (Attach). The link is a delay line
// in this process between two TUN devices, one in the router's namespace and one in the
// mirror's: it holds each packet for the link's rate (one after the other, so the
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
	lines          [2]*line
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
// there, "wanm" goes to the mirror's) and runs a delay line each way between them.
func (w *WAN) startLink(t testing.TB) {
	var tuns [2]int
	err := inNetns(nsPath(w.router), func() error {
		var err error
		for i, name := range []string{"wan", "wanm"} {
			if tuns[i], err = openTUN(name); err != nil {
				return fmt.Errorf("TUN %s: %w", name, err)
			}
		}
		return nil
	})
	stop, serr := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err == nil {
		err = serr
	}
	if err != nil {
		for _, fd := range append(tuns[:], stop) {
			if fd > 0 {
				unix.Close(fd)
			}
		}
		t.Fatalf("testbed: WAN: %v", err)
	}
	// Each line's thread needs a P of the runtime's whenever it leaves ppoll: two
	// more than the process had, so it never waits for one.
	procs := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(procs + 2)
	var wg sync.WaitGroup
	for i := range 2 {
		l := &line{rate: w.Options.Rate, delay: w.Options.Delay, queue: w.Options.Queue}
		w.lines[i] = l
		wg.Go(func() { l.run(tuns[i], tuns[1-i], stop) })
	}
	// The lines stop, then closing the devices removes them.
	t.Cleanup(func() {
		_, _ = unix.Write(stop, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		wg.Wait()
		for _, fd := range append(tuns[:], stop) {
			unix.Close(fd)
		}
		runtime.GOMAXPROCS(procs)
	})
}

// serve starts the counting HTTP server on the mirror's address, in its namespace.
func (w *WAN) serve(t testing.TB, dir string) {
	var ln net.Listener
	err := inNetns(nsPath(w.mirror), func() (err error) {
		ln, err = net.Listen("tcp", wanMirror+":"+wanPort)
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

// Dropped is how many packets the link has dropped each way (its queue full): towards
// the region, and towards the nodes.
func (w *WAN) Dropped() (up, down int64) {
	return w.lines[0].dropped.Load(), w.lines[1].dropped.Load()
}

// Late is the most a packet has arrived after its time, either way: the delay line
// is a thread of this process, and a busy machine can hold it up.
func (w *WAN) Late() time.Duration {
	return time.Duration(max(w.lines[0].late.Load(), w.lines[1].late.Load()))
}

func (w *WAN) String() string {
	return fmt.Sprintf("%v each way (%v round trip), %g Mbit/s each way, queue %v",
		w.Options.Delay, 2*w.Options.Delay, float64(w.Options.Rate)/1e6, w.Options.Queue)
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
	// The first connection may wait for the new link's carrier and for ARP (a lost
	// SYN costs a second); the second is the round trip.
	var took time.Duration
	err := inNetns(fmt.Sprintf("/proc/%d/ns/net", pid), func() error {
		var err error
		if _, err = headManifest(w.URL); err == nil {
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

// line is one direction of the link: packets leave at its rate one after the other,
// arrive delay later, and are dropped when they would wait longer than queue to leave.
type line struct {
	rate         int64 // bits per second
	delay, queue time.Duration
	free         time.Time // when the link has sent what it holds
	dropped      atomic.Int64
	late         atomic.Int64 // nanoseconds, the most a packet arrived after its time
}

// admit schedules a packet of size bytes that reaches the link at now: when it arrives
// at the far end, or false if it is dropped.
func (l *line) admit(now time.Time, size int) (time.Time, bool) {
	start := now
	if l.free.After(now) {
		if l.free.Sub(now) > l.queue {
			return time.Time{}, false
		}
		start = l.free
	}
	l.free = start.Add(time.Duration(int64(size) * 8 * int64(time.Second) / l.rate))
	return l.free.Add(l.delay), true
}

// slot is a packet the line holds: its bytes are in a buffer of the line's, so that
// the line allocates nothing while it runs (the runtime would have it help the
// garbage collector, late).
type slot struct {
	n  int
	at time.Time
}

// lineSlots is the most packets one line holds: more than a full queue and the
// delay take at a few hundred Mbit/s, even of the smallest packets.
const (
	lineSlots = 1 << 13
	slotBytes = 1 << 11 // a TUN device's MTU is 1500
)

// run carries packets from TUN device from to TUN device to until stop (an eventfd)
// is written. It is one loop on a thread of its own at a high priority, sleeping in
// ppoll until a packet comes in or the next one is due, so that a busy machine (ten
// nodes at once) delays the packets as little as it can. Arrival times only grow, so
// one ring in order holds them.
func (l *line) run(from, to, stop int) {
	runtime.LockOSThread() // never unlocked: the thread ends with the line
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -15)
	bufs := make([]byte, lineSlots*slotBytes)
	slots := make([]slot, lineSlots)
	scratch := make([]byte, slotBytes) // what comes in while every slot is taken
	head, count := 0, 0
	fds := []unix.PollFd{{Fd: int32(from), Events: unix.POLLIN}, {Fd: int32(stop), Events: unix.POLLIN}}
	var ts unix.Timespec
	for {
		timeout := (*unix.Timespec)(nil)
		if count > 0 {
			ts = unix.NsecToTimespec(max(time.Until(slots[head].at), 0).Nanoseconds())
			timeout = &ts
		}
		if _, err := unix.Ppoll(fds, timeout, nil); err != nil && err != unix.EINTR {
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		// At most a batch in, so that what is due goes out in time.
		for range 64 {
			i := (head + count) % lineSlots
			buf := bufs[i*slotBytes : (i+1)*slotBytes]
			if count == lineSlots {
				buf = scratch
			}
			n, err := unix.Read(from, buf)
			if err != nil || n <= 0 {
				break
			}
			if count == lineSlots {
				l.dropped.Add(1)
				continue
			}
			at, ok := l.admit(time.Now(), n)
			if !ok {
				l.dropped.Add(1)
				continue
			}
			slots[i] = slot{n: n, at: at}
			count++
		}
		now := time.Now()
		for count > 0 && !slots[head].at.After(now) {
			_, _ = unix.Write(to, bufs[head*slotBytes:head*slotBytes+slots[head].n])
			if late := now.Sub(slots[head].at).Nanoseconds(); late > l.late.Load() {
				l.late.Store(late)
			}
			head = (head + 1) % lineSlots
			count--
		}
	}
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

// inNetns runs fn on a thread of its own in the network namespace at path. The thread
// never leaves it: it ends with fn. Sockets and devices fn creates stay in the
// namespace.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		f, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
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
