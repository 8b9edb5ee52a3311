// Package fetch downloads release artifacts into nodeup's content cache.
//
// Its promise: the cache (CACHE/sha256/<hex>) only ever holds files whose
// sha256 is their name. Bytes are hashed while they stream into a temporary
// file in the cache directory, and only a file that matches is renamed into
// place; a cached file is re-hashed before it is used. Sources (mirrors, then
// upstream) are tried in order; transient failures are retried with bounded
// exponential backoff, a stalled server times out, and when everything fails
// the error lists every source and why it failed.
package fetch

import (
	"context"
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
	"syscall"
	"time"

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
	maxBackoff         = 30 * time.Second
)

// ErrChecksum is the class of a download whose sha256 is not the expected
// one (errors.Is); the error itself is a *ChecksumError.
var ErrChecksum = errors.New("sha256 mismatch")

// ErrStalled is the class of a download that received no data for the idle
// timeout.
var ErrStalled = errors.New("stalled")

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
// not match is removed and downloaded again.
func (f *Fetcher) Fetch(ctx context.Context, candidates []string, sum string) (string, error) {
	sum = strings.ToLower(sum)
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("sha256 %q is not 64 hex digits", sum)
	}
	if f.CacheDir == "" {
		return "", errors.New("fetch: no cache directory set")
	}
	final := f.CachePath(sum)
	if ok, err := f.cached(final, sum); err != nil {
		return "", err
	} else if ok {
		f.logf("using cached %s", final)
		return final, nil
	}
	fail := &Error{SHA256: sum}
	if len(candidates) == 0 {
		return "", fail
	}
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail.Err = fmt.Errorf("create cache directory %s: %w", dir, err)
		return "", fail
	}
	tmp, err := os.CreateTemp(dir, host.TempPrefix+sum[:12]+"-*")
	if err != nil {
		fail.Err = fmt.Errorf("create file in cache directory %s: %w", dir, err)
		return "", fail
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()

	for _, u := range candidates {
		serr := f.trySource(ctx, u, tmp, sum)
		if serr != nil && errors.Is(serr, ErrCache) {
			fail.Err = fmt.Errorf("%s: %w%s", u, serr.Err, cacheHint(serr.Err, dir))
			return "", fail
		}
		if serr == nil {
			if err := commit(tmp, final); err != nil {
				fail.Err = err
				return "", fail
			}
			return final, nil
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

// cached reports whether final holds the right bytes, removing it if not.
func (f *Fetcher) cached(final, sum string) (bool, error) {
	got, err := hashFile(final)
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
	if err := os.Remove(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove damaged cache file %s: %w; remove it by hand", final, err)
	}
	return false, nil
}

func hashFile(p string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// commit makes the verified temp file the cache entry.
func commit(tmp *os.File, final string) error {
	err := tmp.Chmod(0o644)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		return fmt.Errorf("store %s in the cache: %w", final, err)
	}
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// trySource downloads u into tmp, retrying transient failures, and checks
// the sha256. nil means tmp holds the verified bytes.
func (f *Fetcher) trySource(ctx context.Context, u string, tmp *os.File, sum string) *SourceError {
	tries := f.Retries
	if tries <= 0 {
		tries = DefaultRetries
	}
	wait := f.Backoff
	if wait <= 0 {
		wait = DefaultBackoff
	}
	for try := 1; ; try++ {
		got, err := f.download(ctx, u, tmp)
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
// what it wrote.
func (f *Fetcher) download(ctx context.Context, u string, tmp *os.File) (string, error) {
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
	var body io.Reader
	var size int64 = -1
	switch pu.Scheme {
	case "file":
		src, err := os.Open(pu.Path)
		if err != nil {
			return "", err
		}
		defer src.Close()
		if fi, err := src.Stat(); err == nil {
			if fi.IsDir() {
				return "", fmt.Errorf("%s is a directory", pu.Path)
			}
			size = fi.Size()
		}
		body = src
	case "http", "https":
		actx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		idle := f.IdleTimeout
		if idle <= 0 {
			idle = DefaultIdleTimeout
		}
		timer := time.AfterFunc(idle, func() {
			cancel(fmt.Errorf("%w: no data for %v", ErrStalled, idle))
		})
		defer timer.Stop()
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
		size = resp.ContentLength
		body = &idleReader{ctx: actx, r: resp.Body, timer: timer, idle: idle}
	default:
		return "", fmt.Errorf("unsupported URL scheme %q; use http, https or file", pu.Scheme)
	}

	h := sha256.New()
	w := io.MultiWriter(cacheWriter{tmp}, h)
	var p *progress
	if f.Progress != nil {
		p = newProgress(f.Progress, f.IsTerminal, path.Base(pu.Path), size)
		w = io.MultiWriter(cacheWriter{tmp}, h, p)
	}
	n, err := io.Copy(w, body)
	if p != nil {
		p.finish(err)
	}
	if err != nil {
		return "", err
	}
	if size >= 0 && n != size {
		return "", fmt.Errorf("%w: got %d of %d bytes", io.ErrUnexpectedEOF, n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
}

func (r *idleReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	if err != nil && err != io.EOF {
		err = causeOf(r.ctx, err)
	}
	return n, err
}

// causeOf replaces a cancellation error with its cause (the stall).
func causeOf(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, ErrStalled) {
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
	case errors.Is(err, ErrChecksum), errors.Is(err, ErrCache), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
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
