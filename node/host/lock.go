package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/paths"
)

// lockPoll is how often a waiting Lock tries again: flock cannot wait on a
// context, so waiting is polling with LOCK_NB.
const lockPoll = 100 * time.Millisecond

// ErrLocked is the class of the error Lock returns when another nodeup holds
// the lock (errors.Is).
var ErrLocked = errors.New("locked by another nodeup")

// LockedError says who holds the lock.
type LockedError struct {
	PID  int    // the holder's pid, 0 when unknown
	Path string // the lock's node path
	Err  error  // set when giving up a wait: the context's error
}

func (e *LockedError) Error() string {
	who := "another nodeup"
	if e.PID > 0 {
		who = fmt.Sprintf("another nodeup (pid %d)", e.PID)
	}
	if e.Err != nil {
		return fmt.Sprintf("gave up waiting for %s, held by %s: %v", e.Path, who, e.Err)
	}
	return fmt.Sprintf("%s holds %s; wait for it or pass --wait", who, e.Path)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

func (e *LockedError) Unwrap() error { return e.Err }

// Lock takes the node's nodeup lock (paths.LockFile under the root, flock) and
// writes this process's pid into it. If another nodeup holds it, Lock fails
// at once with a *LockedError naming the holder's pid, or with wait set,
// tries again until it gets the lock or ctx is done; waiting, if not nil,
// hears once that it waits and for whom. The kernel drops the lock when the
// process exits, so a killed nodeup never leaves it held. release unlocks;
// call it once.
func (h *Host) Lock(ctx context.Context, wait bool, waiting func(holder int)) (release func() error, err error) {
	var f *os.File
	err = in(h, "open lock", paths.LockFile, true, func(dir int, base string) error {
		fd, err := unix.Openat(dir, base, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), paths.LockFile)
		if err := regular(f); err != nil {
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var tick *time.Ticker
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, h.fail("lock", paths.LockFile, err)
		}
		if !wait {
			pid := readPID(f)
			f.Close()
			return nil, &LockedError{PID: pid, Path: paths.LockFile}
		}
		if tick == nil {
			tick = time.NewTicker(lockPoll)
			defer tick.Stop()
			if waiting != nil {
				waiting(readPID(f))
			}
		}
		select {
		case <-ctx.Done():
			pid := readPID(f)
			f.Close()
			return nil, &LockedError{PID: pid, Path: paths.LockFile, Err: context.Cause(ctx)}
		case <-tick.C:
		}
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, h.fail("write lock", paths.LockFile, err)
	}
	return func() error {
		// Empty the file first so nobody reads a stale pid after we are gone.
		f.Truncate(0)
		err := unix.Flock(int(f.Fd()), unix.LOCK_UN)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return h.fail("unlock", paths.LockFile, err)
		}
		return nil
	}, nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID reads the holder's pid; 0 if the holder has not written it yet.
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}
