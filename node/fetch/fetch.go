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
// backoff. A source that cannot be connected to is not retried while a
// later source remains, and a Fetcher passes over its host for the rest of
// its life: a dead mirror listed first costs one connect timeout per run,
// not retries per artifact. When everything fails the error lists every
// source and why it failed.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/host"
)

// Defaults for the zero values of Fetcher's fields.
const (
	DefaultRetries        = 3
	DefaultBackoff        = time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultPerHost        = 1
	DefaultIdleTimeout    = 30 * time.Second
	// DefaultMaxBytes is far above any release artifact nodeup installs
	// (kata's static tarball, the largest, is a few hundred MiB).
	DefaultMaxBytes   int64 = 2 << 30
	DefaultMinRate    int64 = 1 << 10
	DefaultRateWindow       = time.Minute
	DefaultTryTimeout       = 30 * time.Minute
	DefaultTimeout          = time.Hour
	maxBackoff              = 30 * time.Second
)

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

// ErrUnreachable is the class of a source passed over because its host
// could not be connected to earlier in the Fetcher's life.
var ErrUnreachable = errors.New("unreachable")

// Fetcher downloads artifacts into the content cache.
type Fetcher struct {
	// Client does the HTTP requests; nil means one client for the
	// Fetcher's life on a clone of http.DefaultTransport (proxy from the
	// environment) that gives up connecting after ConnectTimeout.
	// Redirects are followed.
	Client *http.Client
	// PerHost is how many downloads from one host run at once; 0 means
	// DefaultPerHost: one after another over one connection, kept open
	// between them, as apt fetches from a mirror (downloads from different
	// hosts still run at once). Across a WAN one warm connection keeps the
	// link full, where several new ones started together each leave TCP's
	// slow start as soon as the others fill the path's queue, and use a
	// fraction of the link for seconds once the small downloads are done.
	PerHost int
	// ConnectTimeout bounds connecting to a source that has another after
	// it (with the default Client); 0 means DefaultConnectTimeout. A
	// healthy source answers in well under a second; the default leaves
	// room for two lost SYNs. The last source has IdleTimeout.
	ConnectTimeout time.Duration
	// CacheDir is the real path of the cache directory, usually
	// host.Path(paths.CacheDir). Files go to CacheDir/sha256/<hex>.
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

	clientOnce sync.Once
	client     *http.Client
	mu         sync.Mutex
	down       map[string]error         // hosts not connected to, and why
	slots      map[string]chan struct{} // by host, PerHost each
}

// cacheWriter marks write errors as the cache's, not the source's.
type cacheWriter struct{ f *os.File }

func (w cacheWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrCache, err)
	}
	return n, err
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
	return f.fetch(ctx, candidates, sum, pinned, nil)
}

// fetch is FetchSized, telling obs (when not nil) about every try.
func (f *Fetcher) fetch(ctx context.Context, candidates []string, sum string, pinned int64, obs *Stream) (string, error) {
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

	tmp, tmpName, err := host.TempIn(dir, sum[:12])
	if err != nil {
		fail.Err = fmt.Errorf("create file in cache directory %s: %w%s", filepath.Dir(final), err, cacheHint(err, filepath.Dir(final)))
		return "", fail
	}
	defer func() {
		tmp.Close()
		unix.Unlinkat(int(dir.Fd()), tmpName, 0)
	}()
	if err := obs.attach(tmp); err != nil {
		fail.Err = err
		return "", fail
	}

	for i, u := range candidates {
		more := i < len(candidates)-1
		if why := f.isDown(u); why != nil && more {
			fail.Sources = append(fail.Sources, &SourceError{URL: u, Err: fmt.Errorf("%w: passed over, %v", ErrUnreachable, why)})
			continue
		}
		serr := f.trySource(ctx, u, tmp, sum, pinned, limit, more, obs)
		if serr == nil {
			f.markUp(u)
			obs.verify()
			// The cache checks every entry's sha256 before using it: a
			// crash that loses the entry's bytes costs a download, so
			// nothing waits for the disk here.
			if err := host.CommitCheckedIn(dir, tmp, tmpName, sum, 0o644); err != nil {
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
	h := digest.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return digest.Of(h), nil
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Log != nil {
		f.Log(format, args...)
	}
}
