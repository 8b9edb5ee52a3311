// Command wanlink is the link of the test bed's WAN (testbed.NewWAN): it carries IP
// packets between two TUN devices, handed to it as file descriptors 3 and 4, delaying
// each one and limiting the rate each way, as the netem qdisc would (this machine's
// kernel has none):
//
//	wanlink -delay 20ms -rate 200000000 -queue 40ms
//
// Packets leave at the rate one after the other and arrive delay later; a packet that
// would wait longer than queue to leave is dropped, as at a router's full buffer. Each
// direction is one loop on a thread of its own in the real-time class (nice -15 where
// that is refused), sleeping in ppoll until a packet comes in or the next is due and
// allocating nothing; it is a process of its own so that nothing else in it competes
// for the runtime's processors. For each line on stdin it writes what it has done so
// far, "DROPPED_UP DROPPED_DOWN LATE_NS CLASS" (up is from fd 3 to fd 4); it exits
// when stdin closes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	delay := flag.Duration("delay", 20*time.Millisecond, "one way")
	rate := flag.Int64("rate", 200_000_000, "bits per second, each way")
	queue := flag.Duration("queue", 40*time.Millisecond, "the longest a packet waits to leave")
	flag.Parse()
	// Each line's thread needs one of the runtime's processors whenever it leaves
	// ppoll, and must not wait for one: more than there are threads to want them, and
	// no collector (the lines allocate nothing after they start).
	runtime.GOMAXPROCS(8)
	debug.SetGCPercent(-1)
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanlink:", err)
		os.Exit(1)
	}
	const site, region = 3, 4
	var lines [2]*line
	var wg sync.WaitGroup
	for i, dir := range [2][2]int{{site, region}, {region, site}} {
		if err := unix.SetNonblock(dir[0], true); err != nil {
			fmt.Fprintln(os.Stderr, "wanlink:", err)
			os.Exit(1)
		}
		lines[i] = &line{rate: *rate, delay: *delay, queue: *queue}
		wg.Go(func() { lines[i].run(dir[0], dir[1], stop) })
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("%d %d %d %s %d %d\n", lines[0].dropped.Load(), lines[1].dropped.Load(),
			max(lines[0].late.Load(), lines[1].late.Load()), lines[0].class.Load(),
			lines[0].lateCount.Load()+lines[1].lateCount.Load(), lines[0].sent.Load()+lines[1].sent.Load())
	}
	_, _ = unix.Write(stop, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	wg.Wait()
}

// line is one direction of the link: packets leave at its rate one after the other,
// arrive delay later, and are dropped when they would wait longer than queue to leave.
type line struct {
	rate         int64 // bits per second
	delay, queue time.Duration
	free         time.Time // when the link has sent what it holds
	dropped      atomic.Int64
	late         atomic.Int64 // nanoseconds, the most a packet arrived after its time
	lateCount    atomic.Int64 // packets that arrived more than 1 ms after their time
	sent         atomic.Int64
	class        atomic.Value // string: its thread's scheduling
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

// realtime puts the calling thread in the real-time class (SCHED_FIFO, a low
// priority), so that it is woken at its packet's time ahead of every ordinary process
// (ten nodes applying at once on two cores); it blocks in ppoll between packets and
// takes little CPU. Where the class is refused, it runs at nice -15.
func (l *line) realtime() {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: 1 /* SCHED_FIFO */, Priority: 10}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -15)
		l.class.Store("nice-15")
		return
	}
	l.class.Store("SCHED_FIFO")
}

// slot is a packet the line holds; its bytes are in the line's buffer.
type slot struct {
	n  int
	at time.Time
}

// lineSlots is the most packets one line holds: more than a full queue and the delay
// take at a few hundred Mbit/s, even of the smallest packets.
const (
	lineSlots = 1 << 13
	slotBytes = 1 << 11 // a TUN device's MTU is 1500
)

// run carries packets from TUN device from to TUN device to until stop (an eventfd)
// is written. Arrival times only grow, so one ring in order holds the packets.
func (l *line) run(from, to, stop int) {
	runtime.LockOSThread() // never unlocked: the thread ends with the line
	l.realtime()
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
			late := now.Sub(slots[head].at).Nanoseconds()
			if late > l.late.Load() {
				l.late.Store(late)
			}
			if late > int64(time.Millisecond) {
				l.lateCount.Add(1)
			}
			l.sent.Add(1)
			head = (head + 1) % lineSlots
			count--
		}
	}
}
