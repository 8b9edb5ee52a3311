package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nodeup/nodeup/node/digest"
	"golang.org/x/sys/unix"
)

// trySource downloads u into tmp, retrying transient failures, and checks
// the sha256. nil means tmp holds the verified bytes. When more sources
// follow, a failure to connect is not retried: the host is marked down and
// the next source is tried at once.
func (f *Fetcher) trySource(ctx context.Context, u string, tmp *os.File, sum string, pinned, limit int64, more bool, obs *Stream) *SourceError {
	tries := f.Retries
	if tries <= 0 {
		tries = DefaultRetries
	}
	wait := f.Backoff
	if wait <= 0 {
		wait = DefaultBackoff
	}
	if more {
		ctx = context.WithValue(ctx, fallbackKey{}, true)
	}
	for try := 1; ; try++ {
		got, err := f.download(ctx, u, tmp, pinned, limit, obs)
		if err == nil && got != sum {
			err = &ChecksumError{URL: u, Expected: sum, Actual: got}
		}
		if err == nil {
			return nil
		}
		if connectFailed(err) && ctx.Err() == nil {
			f.markDown(u, err)
			if more {
				return &SourceError{URL: u, Tries: try, Err: fmt.Errorf("%w; passing over %s for the rest of this run", err, hostOf(u))}
			}
		}
		if !transient(ctx, err) || try >= tries {
			return &SourceError{URL: u, Tries: try, Err: err}
		}
		f.logf("%s: %v; retrying in %v (try %d of %d)", u, err, wait, try+1, tries)
		select {
		case <-ctx.Done():
			return &SourceError{URL: u, Tries: try, Err: err}
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

// download copies u into tmp (truncated first) and returns the sha256 of
// what it wrote. size is the pinned size (negative: unknown); more than
// limit bytes is ErrTooLarge. obs hears of the try and its bytes.
func (f *Fetcher) download(ctx context.Context, u string, tmp *os.File, pinned, limit int64, obs *Stream) (string, error) {
	obs.begin()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if err := tmp.Truncate(0); err != nil {
		return "", err
	}
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	tooLarge := func(n int64) error {
		if pinned >= 0 {
			return fmt.Errorf("%w: it has %d bytes, the pinned size is %d", ErrTooLarge, n, pinned)
		}
		return fmt.Errorf("%w: it has %d bytes, more than the %s a download may have", ErrTooLarge, n, size(limit))
	}
	var (
		body      io.Reader
		announced int64
		done      func()
	)
	switch pu.Scheme {
	case "file":
		body, announced, done, err = openFileSource(pu.Path)
	case "http", "https":
		body, announced, done, err = f.openHTTP(ctx, u)
	default:
		return "", fmt.Errorf("unsupported URL scheme %q; use http, https or file", pu.Scheme)
	}
	if err != nil {
		return "", err
	}
	defer done()
	if announced > limit || (pinned >= 0 && announced >= 0 && announced != pinned) {
		return "", tooLarge(announced)
	}
	expect := pinned
	if expect < 0 {
		expect = announced
	}

	h := digest.New()
	var cache io.Writer = cacheWriter{tmp}
	if obs != nil {
		cache = streamWriter{cache, obs}
	}
	w := io.MultiWriter(cache, h)
	var p *progress
	if f.Progress != nil {
		p = newProgress(f.Progress, f.IsTerminal, path.Base(pu.Path), expect)
		w = io.MultiWriter(cache, h, p)
	}
	n, err := io.Copy(w, io.LimitReader(body, limit+1))
	if err == nil && n > limit {
		err = tooLarge(n)
	}
	if p != nil {
		p.finish(err)
	}
	if err != nil {
		return "", err
	}
	if expect >= 0 && n != expect {
		return "", fmt.Errorf("%w: got %d of %d bytes", io.ErrUnexpectedEOF, n, expect)
	}
	return digest.Of(h), nil
}

// openFileSource opens a file:// source, a file or a member of a tar, and
// says its size; done closes it.
func openFileSource(p string) (body io.Reader, size int64, done func(), err error) {
	if tarPath, member, ok := splitTar(p); ok {
		r, size, closer, err := openTarSource(tarPath, member)
		if err != nil {
			return nil, 0, nil, err
		}
		return r, size, func() { closer.Close() }, nil
	}
	src, err := openSource(p)
	if err != nil {
		return nil, 0, nil, err
	}
	fi, err := src.Stat()
	if err != nil {
		src.Close()
		return nil, 0, nil, err
	}
	return src, fi.Size(), func() { src.Close() }, nil
}

// openHTTP starts one try of an http(s) download and says the size the
// server announces (-1: none); done ends the try. No byte for the idle
// timeout is a stall, a pace below the minimum rate or a try longer than
// TryTimeout is too slow.
func (f *Fetcher) openHTTP(ctx context.Context, u string) (body io.Reader, size int64, done func(), err error) {
	release, err := f.hostSlot(ctx, u)
	if err != nil {
		return nil, 0, nil, err
	}
	// Found down while this download waited for the host: pass it over.
	if why := f.isDown(u); why != nil && ctx.Value(fallbackKey{}) != nil {
		release()
		return nil, 0, nil, fmt.Errorf("%w: passed over, %v", ErrUnreachable, why)
	}
	b, n, end, err := f.requestHTTP(ctx, u)
	if err != nil {
		release()
		return nil, 0, nil, err
	}
	return b, n, func() { end(); release() }, nil
}

// hostSlot waits until u's host has a free download slot (PerHost of them)
// and returns what gives it back.
func (f *Fetcher) hostSlot(ctx context.Context, u string) (func(), error) {
	host := hostOf(u)
	f.mu.Lock()
	if f.slots == nil {
		f.slots = map[string]chan struct{}{}
	}
	slot := f.slots[host]
	if slot == nil {
		slot = make(chan struct{}, or(f.PerHost, DefaultPerHost))
		f.slots[host] = slot
	}
	f.mu.Unlock()
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// requestHTTP is openHTTP once the host has a slot.
func (f *Fetcher) requestHTTP(ctx context.Context, u string) (body io.Reader, size int64, done func(), err error) {
	actx, cancel := context.WithCancelCause(ctx)
	idle := or(f.IdleTimeout, DefaultIdleTimeout)
	timer := time.AfterFunc(idle, func() {
		cancel(fmt.Errorf("%w: no data for %v", ErrStalled, idle))
	})
	tryTimeout := or(f.TryTimeout, DefaultTryTimeout)
	deadline := time.AfterFunc(tryTimeout, func() {
		cancel(fmt.Errorf("%w: not done after %v", ErrTooSlow, tryTimeout))
	})
	stop := func() {
		deadline.Stop()
		timer.Stop()
		cancel(nil)
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		stop()
		return nil, 0, nil, err
	}
	req.Header.Set("User-Agent", "nodeup")
	resp, err := f.httpClient().Do(req)
	if err != nil {
		err = causeOf(actx, err)
		stop()
		return nil, 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		stop()
		return nil, 0, nil, &StatusError{URL: u, Code: resp.StatusCode, Status: resp.Status}
	}
	r := &idleReader{ctx: actx, r: resp.Body, timer: timer, idle: idle}
	go f.watchRate(actx, cancel, &r.got)
	return r, resp.ContentLength, func() { resp.Body.Close(); stop() }, nil
}

// openSource opens a file:// source: a regular file, opened without
// blocking, so a fifo or a device cannot hang or flood the download.
func openSource(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", p)
		if fi.IsDir() {
			err = fmt.Errorf("%s is a directory", p)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// watchRate cuts a try whose body arrives slower than the minimum rate,
// averaged over each window, until ctx is done.
func (f *Fetcher) watchRate(ctx context.Context, cancel context.CancelCauseFunc, got *atomic.Int64) {
	rate := f.MinRate
	window := f.RateWindow
	if rate <= 0 || window <= 0 {
		rate, window = DefaultMinRate, DefaultRateWindow
	}
	want := int64(float64(rate) * window.Seconds())
	t := time.NewTicker(window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := got.Swap(0); n < want {
				cancel(fmt.Errorf("%w: %d bytes in %v, below %s/s", ErrTooSlow, n, window, size(rate)))
				return
			}
		}
	}
}

// fallbackKey marks the context of a try of a source that has another after it.
type fallbackKey struct{}

// httpClient is Client, or the Fetcher's own: connections are kept between
// downloads, and connecting to a source with another after it gives up
// after ConnectTimeout (the last source has the idle timeout: there is
// nowhere else to go, and a congested link may drop a few SYNs).
func (f *Fetcher) httpClient() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	f.clientOnce.Do(func() {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := &net.Dialer{KeepAlive: 30 * time.Second}
			if ctx.Value(fallbackKey{}) != nil {
				d.Timeout = or(f.ConnectTimeout, DefaultConnectTimeout)
			}
			return d.DialContext(ctx, network, addr)
		}
		f.client = &http.Client{Transport: t}
	})
	return f.client
}

// connectFailed says whether err is a failure to connect to the source (or
// its proxy): refused, no route, no answer in time, no address.
func connectFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// hostOf is the scheme and host of a URL, what a connection goes to.
func hostOf(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	return pu.Scheme + "://" + pu.Host
}

// markDown remembers that u's host could not be connected to.
func (f *Fetcher) markDown(u string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down == nil {
		f.down = map[string]error{}
	}
	f.down[hostOf(u)] = err
}

// markUp forgets that u's host could not be connected to: it served.
func (f *Fetcher) markUp(u string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.down, hostOf(u))
}

// isDown says why u's host could not be connected to earlier; nil if it
// could, or was not tried.
func (f *Fetcher) isDown(u string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down[hostOf(u)]
}

// idleReader restarts the idle timer whenever data arrives and reports the
// stall, not the cancellation it causes.
type idleReader struct {
	ctx   context.Context
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
	got   atomic.Int64 // bytes since the rate was last checked
}

func (r *idleReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.timer.Reset(r.idle)
		r.got.Add(int64(n))
	}
	if err != nil && err != io.EOF {
		err = causeOf(r.ctx, err)
	}
	return n, err
}

// causeOf replaces a cancellation error with its cause (a stall, a pace
// too slow, the total time).
func causeOf(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && (errors.Is(cause, ErrStalled) || errors.Is(cause, ErrTooSlow) || errors.Is(cause, ErrTimeout)) {
		return cause
	}
	return err
}

// transient says whether trying the same source again may help.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests
	}
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var dns *net.DNSError
	switch {
	case errors.Is(err, ErrChecksum), errors.Is(err, ErrCache), errors.Is(err, ErrTooLarge), errors.Is(err, ErrTooSlow),
		errors.Is(err, ErrTimeout), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return false
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn):
		return false
	case errors.As(err, &dns):
		return !dns.IsNotFound
	case errors.Is(err, ErrStalled), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	}
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || (errors.As(err, &ue) && !strings.Contains(ue.Err.Error(), "redirect"))
}
