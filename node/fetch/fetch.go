// Package fetch downloads release artifacts into nodeup's content cache.
//
// Its promise: the cache (CACHE/sha256/<hex>) only ever holds files whose
// sha256 is their name. Bytes are hashed while they stream into a temporary
// file in the cache directory, and only a file that matches is renamed into
// place; a cached file is re-hashed before it is used. Nothing below CACHE
// is reached through a symlink: the sha256 directory and the files in it are
// opened relative to the directory above them with O_NOFOLLOW.
//
// Every download is bounded: in size (the pinned size where it is known,
// MaxBytes otherwise), in time per try of a source, in total time, and in
// rate (a server that sends a byte now and then is cut). Sources (mirrors,
// then upstream) are tried in order and any failure of one moves on to the
// next; transient failures are first retried with bounded exponential
// backoff. When everything fails the error lists every source and why it
// failed.
package fetch

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/host"
)

// NodeCacheDir is the content cache's node path; resolve it through the host
// (host.Path) to fill Fetcher.CacheDir.
const NodeCacheDir = "/var/cache/nodeup"

// Defaults for the zero values of Fetcher's fields.
const (
	DefaultRetries     = 3
	DefaultBackoff     = time.Second
	DefaultIdleTimeout = 30 * time.Second
	// DefaultMaxBytes is far above any release artifact nodeup installs
	// (kata's static tarball, the largest, is a few hundred MiB).
	DefaultMaxBytes   int64 = 2 << 30
	DefaultMinRate    int64 = 1 << 10
	DefaultRateWindow       = time.Minute
	DefaultTryTimeout       = 30 * time.Minute
	DefaultTimeout          = time.Hour
	maxBackoff              = 30 * time.Second
)

// ErrChecksum is the class of a download whose sha256 is not the expected
// one (errors.Is); the error itself is a *ChecksumError.
var ErrChecksum = errors.New("sha256 mismatch")

// ErrStalled is the class of a download that received no data for the idle
// timeout; the source is tried again.
var ErrStalled = errors.New("stalled")

// ErrTooSlow is the class of a try of a source cut for its pace: below the
// minimum rate, or not done within the time for one try. The next source is
// tried.
var ErrTooSlow = errors.New("too slow")

// ErrTooLarge is the class of a source that sends (or announces) more bytes
// than the download may have. The next source is tried.
var ErrTooLarge = errors.New("too large")

// ErrTimeout is the class of a Fetch that ran out of its total time.
var ErrTimeout = errors.New("took too long")

// Fetcher downloads artifacts into the content cache.
type Fetcher struct {
	// Client does the HTTP requests; nil means a clone of
	// http.DefaultTransport (proxy from the environment). Redirects are
	// followed.
	Client *http.Client
	// CacheDir is the real path of the cache directory, usually
	// host.Path(NodeCacheDir). Files go to CacheDir/sha256/<hex>.
	CacheDir string
	// Retries is how many times one source is tried when it fails with a
	// transient error (connection reset or refused, timeout, 5xx, 408, 429,
	// truncated body); 0 means DefaultRetries.
	Retries int
	// Backoff is the wait before the first retry, doubled after each one
	// (at most 30s); 0 means DefaultBackoff.
	Backoff time.Duration
	// IdleTimeout is how long a request may go without receiving a byte,
	// connecting and waiting for headers included; 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxBytes caps a download whose size is not pinned; 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// MinRate (bytes per second, averaged over each RateWindow of a
	// body) is the slowest a source may send before it is cut; 0 means
	// DefaultMinRate and DefaultRateWindow.
	MinRate    int64
	RateWindow time.Duration
	// TryTimeout bounds one try of one source; 0 means DefaultTryTimeout.
	TryTimeout time.Duration
	// Timeout bounds a whole Fetch, every source and retry included; 0
	// means DefaultTimeout.
	Timeout time.Duration
	// Progress receives a progress bar when IsTerminal, else a plain line
	// every few seconds (cloud-init logs). nil shows nothing.
	Progress   io.Writer
	IsTerminal bool
	// Log receives one line per event: cache hits, retries, failed sources.
	Log func(format string, args ...any)
}

// ErrCache is the class of a failure to write the download into the cache
// (a full or read-only disk): no retry and no other source can help.
var ErrCache = errors.New("cannot write the download cache")

// cacheWriter marks write errors as the cache's, not the source's.
type cacheWriter struct{ f *os.File }

func (w cacheWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrCache, err)
	}
	return n, err
}

// cacheHint says what to do about an error writing the cache directory.
func cacheHint(err error, dir string) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Sprintf("; free some space on the filesystem of %s and run nodeup again", dir)
	case errors.Is(err, syscall.EROFS):
		return fmt.Sprintf("; %s is on a read-only filesystem: remount it read-write", dir)
	}
	return ""
}

// ChecksumError is a download whose content is not what the profile pins.
type ChecksumError struct {
	URL      string
	Expected string
	Actual   string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("sha256 mismatch: expected %s, actual %s", e.Expected, e.Actual)
}

func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

// StatusError is an HTTP answer other than 200.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string { return "HTTP " + e.Status }

// SourceError is why one source failed.
type SourceError struct {
	URL   string
	Tries int
	Err   error
}

func (e *SourceError) Error() string {
	if e.Tries > 1 {
		return fmt.Sprintf("%s: %v (after %d tries)", e.URL, e.Err, e.Tries)
	}
	return fmt.Sprintf("%s: %v", e.URL, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }

// Error is a failed Fetch: every source and why it failed.
type Error struct {
	SHA256  string
	Sources []*SourceError
	Err     error // set when Fetch stopped early (context, cache directory)
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "download of sha256 %s failed", e.SHA256)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if len(e.Sources) == 0 && e.Err == nil {
		b.WriteString(": no source to download from; configure a mirror or allow upstream")
	}
	if len(e.Sources) > 0 {
		fmt.Fprintf(&b, "; tried %d sources:", len(e.Sources))
	}
	for _, s := range e.Sources {
		b.WriteString("\n  ")
		b.WriteString(s.Error())
	}
	if len(e.Sources) > 0 && e.Err == nil {
		b.WriteString("\ncheck that the mirrors serve this file (nodeup bundle writes the layout) and that the profile's sha256 is right")
	}
	return b.String()
}

func (e *Error) Unwrap() []error {
	var out []error
	for _, s := range e.Sources {
		out = append(out, s)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// CachePath is where the verified file with this sha256 lives in the cache.
func (f *Fetcher) CachePath(sum string) string {
	return filepath.Join(f.CacheDir, "sha256", strings.ToLower(sum))
}

// Fetch returns the path of a cached file whose sha256 is sum, downloading it
// from the first candidate that serves it (http, https or file URLs) if the
// cache does not hold it already. A cached file is re-hashed; one that does
// not match is removed and downloaded again. The download may be as large as
// MaxBytes; FetchSized bounds it by a known size instead.
func (f *Fetcher) Fetch(ctx context.Context, candidates []string, sum string) (string, error) {
	return f.FetchSized(ctx, candidates, sum, -1)
}

// FetchSized is Fetch for a file whose size is pinned (a negative size is
// unknown): a source that announces or sends another size fails at once.
func (f *Fetcher) FetchSized(ctx context.Context, candidates []string, sum string, pinned int64) (string, error) {
	sum = strings.ToLower(sum)
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("sha256 %q is not 64 hex digits", sum)
	}
	if f.CacheDir == "" {
		return "", errors.New("fetch: no cache directory set")
	}
	final := f.CachePath(sum)
	fail := &Error{SHA256: sum}
	dir, err := f.openCache()
	if err != nil {
		fail.Err = err
		return "", fail
	}
	defer dir.Close()
	if ok, err := f.cached(dir, sum); err != nil {
		return "", err
	} else if ok {
		f.logf("using cached %s", final)
		return final, nil
	}
	if len(candidates) == 0 {
		return "", fail
	}
	limit := pinned
	if limit < 0 {
		limit = or(f.MaxBytes, DefaultMaxBytes)
	}
	timeout := or(f.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w: no source delivered it within %v", ErrTimeout, timeout))
	defer cancel()

	tmp, tmpName, err := createTemp(dir, sum)
	if err != nil {
		fail.Err = fmt.Errorf("create file in cache directory %s: %w%s", filepath.Dir(final), err, cacheHint(err, filepath.Dir(final)))
		return "", fail
	}
	defer func() {
		tmp.Close()
		unix.Unlinkat(int(dir.Fd()), tmpName, 0)
	}()

	for _, u := range candidates {
		serr := f.trySource(ctx, u, tmp, sum, pinned, limit)
		if serr == nil {
			if err := commit(dir, tmp, tmpName, sum); err != nil {
				fail.Err = fmt.Errorf("store %s in the cache: %w", final, err)
				return "", fail
			}
			return final, nil
		}
		if errors.Is(serr, ErrCache) {
			serr.Err = fmt.Errorf("%w%s", serr.Err, cacheHint(serr.Err, filepath.Dir(final)))
		}
		fail.Sources = append(fail.Sources, serr)
		if ctx.Err() != nil {
			fail.Err = context.Cause(ctx)
			return "", fail
		}
		f.logf("%v", serr)
	}
	return "", fail
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// openCache opens the cache's sha256 directory, creating it. CacheDir itself
// may be reached through symlinks (it is resolved inside the node's root by
// host.Path); below it, nodeup follows none.
func (f *Fetcher) openCache() (*os.File, error) {
	if err := os.MkdirAll(f.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create cache directory %s: %w%s", f.CacheDir, err, cacheHint(err, f.CacheDir))
	}
	top, err := unix.Open(f.CacheDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cache directory %s: %w", f.CacheDir, err)
	}
	defer unix.Close(top)
	sub := filepath.Join(f.CacheDir, "sha256")
	if err := unix.Mkdirat(top, "sha256", 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create cache directory %s: %w%s", sub, err, cacheHint(err, sub))
	}
	fd, err := unix.Openat(top, "sha256", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("cache directory %s is a symlink or not a directory; nodeup follows no link inside its cache: remove it and run nodeup again", sub)
	}
	if err != nil {
		return nil, fmt.Errorf("open cache directory %s: %w", sub, err)
	}
	return os.NewFile(uintptr(fd), sub), nil
}

// cached reports whether the cache holds the right bytes for sum, removing
// what is there if not.
func (f *Fetcher) cached(dir *os.File, sum string) (bool, error) {
	final := f.CachePath(sum)
	got, err := hashAt(dir, sum)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil && got == sum {
		return true, nil
	}
	if err == nil {
		f.logf("cached %s has sha256 %s; removing it and downloading again", final, got)
	} else {
		f.logf("cached %s cannot be read (%v); removing it and downloading again", final, err)
	}
	if err := unix.Unlinkat(int(dir.Fd()), sum, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return false, fmt.Errorf("remove damaged cache file %s: %w; remove it by hand", final, err)
	}
	return false, nil
}

// hashAt hashes the regular file name in dir, never through a symlink.
func hashAt(dir *os.File, name string) (string, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	fh := os.NewFile(uintptr(fd), name)
	defer fh.Close()
	if fi, err := fh.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// createTemp makes the file a download streams into, in the cache directory.
func createTemp(dir *os.File, sum string) (*os.File, string, error) {
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		name := host.TempPrefix + sum[:12] + "-" + hex.EncodeToString(b[:])
		fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return os.NewFile(uintptr(fd), name), name, nil
	}
	return nil, "", unix.EEXIST
}

// commit makes the verified temp file the cache entry.
func commit(dir, tmp *os.File, tmpName, sum string) error {
	err := tmp.Chmod(0o644)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = unix.Renameat(int(dir.Fd()), tmpName, int(dir.Fd()), sum)
	}
	if err != nil {
		return err
	}
	dir.Sync()
	return nil
}

// trySource downloads u into tmp, retrying transient failures, and checks
// the sha256. nil means tmp holds the verified bytes.
func (f *Fetcher) trySource(ctx context.Context, u string, tmp *os.File, sum string, pinned, limit int64) *SourceError {
	tries := f.Retries
	if tries <= 0 {
		tries = DefaultRetries
	}
	wait := f.Backoff
	if wait <= 0 {
		wait = DefaultBackoff
	}
	for try := 1; ; try++ {
		got, err := f.download(ctx, u, tmp, pinned, limit)
		if err == nil && got != sum {
			err = &ChecksumError{URL: u, Expected: sum, Actual: got}
		}
		if err == nil {
			return nil
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
// limit bytes is ErrTooLarge.
func (f *Fetcher) download(ctx context.Context, u string, tmp *os.File, pinned, limit int64) (string, error) {
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
		return fmt.Errorf("%w: it has %d bytes, more than the %s a download may have", ErrTooLarge, n, Size(limit))
	}
	var body io.Reader
	announced := int64(-1)
	switch pu.Scheme {
	case "file":
		if tarPath, member, ok := splitTar(pu.Path); ok {
			r, size, closer, err := openTarSource(tarPath, member)
			if err != nil {
				return "", err
			}
			defer closer.Close()
			announced, body = size, r
			break
		}
		src, err := openSource(pu.Path)
		if err != nil {
			return "", err
		}
		defer src.Close()
		fi, err := src.Stat()
		if err != nil {
			return "", err
		}
		announced = fi.Size()
		body = src
	case "http", "https":
		// One try: no byte for the idle timeout is a stall, a pace below
		// the minimum rate or a try longer than TryTimeout is too slow.
		actx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		idle := or(f.IdleTimeout, DefaultIdleTimeout)
		timer := time.AfterFunc(idle, func() {
			cancel(fmt.Errorf("%w: no data for %v", ErrStalled, idle))
		})
		defer timer.Stop()
		tryTimeout := or(f.TryTimeout, DefaultTryTimeout)
		deadline := time.AfterFunc(tryTimeout, func() {
			cancel(fmt.Errorf("%w: not done after %v", ErrTooSlow, tryTimeout))
		})
		defer deadline.Stop()
		req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("User-Agent", "nodeup")
		resp, err := f.client().Do(req)
		if err != nil {
			return "", causeOf(actx, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", &StatusError{URL: u, Code: resp.StatusCode, Status: resp.Status}
		}
		announced = resp.ContentLength
		r := &idleReader{ctx: actx, r: resp.Body, timer: timer, idle: idle}
		go f.watchRate(actx, cancel, &r.got)
		body = r
	default:
		return "", fmt.Errorf("unsupported URL scheme %q; use http, https or file", pu.Scheme)
	}
	if announced > limit || (pinned >= 0 && announced >= 0 && announced != pinned) {
		return "", tooLarge(announced)
	}
	expect := pinned
	if expect < 0 {
		expect = announced
	}

	h := sha256.New()
	w := io.MultiWriter(cacheWriter{tmp}, h)
	var p *progress
	if f.Progress != nil {
		p = newProgress(f.Progress, f.IsTerminal, path.Base(pu.Path), expect)
		w = io.MultiWriter(cacheWriter{tmp}, h, p)
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
	return hex.EncodeToString(h.Sum(nil)), nil
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
				cancel(fmt.Errorf("%w: %d bytes in %v, below %s/s", ErrTooSlow, n, window, Size(rate)))
				return
			}
		}
	}
}

func (f *Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Log != nil {
		f.Log(format, args...)
	}
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
