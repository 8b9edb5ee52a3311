package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var payload = bytes.Repeat([]byte("containerd release archive\n"), 4096)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newFetcher(t *testing.T) *Fetcher {
	t.Helper()
	return &Fetcher{
		CacheDir:    t.TempDir(),
		Backoff:     time.Millisecond,
		IdleTimeout: 2 * time.Second,
		Log:         t.Logf,
	}
}

// server serves the handler and counts requests.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func serve(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}
}

// cacheFiles lists every file under the cache directory.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

func assertFetched(t *testing.T, f *Fetcher, got string, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(f.CacheDir, "sha256", sum(payload)); got != want {
		t.Fatalf("path %s, want %s", got, want)
	}
	b, _ := os.ReadFile(got)
	if !bytes.Equal(b, payload) {
		t.Fatalf("cached content differs (%d bytes)", len(b))
	}
	if files := cacheFiles(t, f.CacheDir); len(files) != 1 {
		t.Fatalf("cache holds %v, want only the verified file", files)
	}
}

func TestMirrorURL(t *testing.T) {
	cases := []struct{ mirror, upstream, want, err string }{
		{"http://10.0.0.5/nodeup", "https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz",
			"http://10.0.0.5/nodeup/github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz", ""},
		{"http://10.0.0.5/nodeup/", "https://dl.k8s.io/release/v1.34.11/bin/linux/amd64/kubelet",
			"http://10.0.0.5/nodeup/dl.k8s.io/release/v1.34.11/bin/linux/amd64/kubelet", ""},
		{"file:///srv/nodeup", "https://github.com/a/b.tgz?x=1", "file:///srv/nodeup/github.com/a/b.tgz", ""},
		{"ftp://m", "https://github.com/a", "", "scheme"},
		{"http://m", "github.com/a", "", "upstream URL"},
	}
	for _, c := range cases {
		got, err := mirrorURL(c.mirror, c.upstream)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("mirrorURL(%q, %q) = %q, %v; want error with %q", c.mirror, c.upstream, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("mirrorURL(%q, %q) = %q, %v; want %q", c.mirror, c.upstream, got, err, c.want)
		}
	}
}

func TestCandidates(t *testing.T) {
	up := "https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"
	got := Candidates([]string{"http://m1/", "file:///srv/b", "http://m1"}, up, true)
	want := []string{"http://m1/github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64",
		"file:///srv/b/github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64", up}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := Candidates([]string{"http://m1"}, up, false); len(got) != 1 || got[0] == up {
		t.Errorf("allowUpstream=false: %q", got)
	}
}

func TestFetchGood(t *testing.T) {
	s, n := server(t, serve(payload))
	f := newFetcher(t)
	var out bytes.Buffer
	f.Progress = &out
	got, err := f.Fetch(context.Background(), []string{s.URL + "/containerd.tar.gz"}, strings.ToUpper(sum(payload)))
	assertFetched(t, f, got, err)
	if n.Load() != 1 {
		t.Errorf("%d requests", n.Load())
	}
	if !strings.Contains(out.String(), "downloaded containerd.tar.gz: 108.0 KiB") {
		t.Errorf("progress log: %q", out.String())
	}
}

func TestFetchCacheHit(t *testing.T) {
	s, n := server(t, serve(payload))
	f := newFetcher(t)
	c := []string{s.URL + "/a"}
	p1, err := f.Fetch(context.Background(), c, sum(payload))
	assertFetched(t, f, p1, err)
	p2, err := f.Fetch(context.Background(), c, sum(payload))
	assertFetched(t, f, p2, err)
	if n.Load() != 1 {
		t.Fatalf("%d requests, want 1: the second fetch must come from the cache", n.Load())
	}
	// A damaged cache entry is removed and downloaded again.
	os.WriteFile(p1, []byte("bit rot"), 0o644)
	p3, err := f.Fetch(context.Background(), c, sum(payload))
	assertFetched(t, f, p3, err)
	if n.Load() != 2 {
		t.Fatalf("%d requests, want 2", n.Load())
	}
}

func TestFetchWrongSHA256(t *testing.T) {
	s, n := server(t, serve([]byte("not the file")))
	f := newFetcher(t)
	u := s.URL + "/runc.amd64"
	_, err := f.Fetch(context.Background(), []string{u}, sum(payload))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{u, "expected " + sum(payload), "actual " + sum([]byte("not the file"))} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	var ce *ChecksumError
	if !errors.Is(err, ErrChecksum) || !errors.As(err, &ce) || ce.URL != u {
		t.Errorf("error classes: %v", err)
	}
	if files := cacheFiles(t, f.CacheDir); len(files) != 0 {
		t.Errorf("cache holds %v after a mismatch", files)
	}
	if n.Load() != 1 {
		t.Errorf("a mismatch was retried: %d requests", n.Load())
	}
}

// Content-Length larger than what is sent: retried, then served whole.
func TestFetchTruncatedBodyRetried(t *testing.T) {
	var first atomic.Bool
	first.Store(true)
	s, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		if first.Swap(false) {
			w.Write(payload[:len(payload)/2])
			return
		}
		w.Write(payload)
	})
	f := newFetcher(t)
	got, err := f.Fetch(context.Background(), []string{s.URL + "/a"}, sum(payload))
	assertFetched(t, f, got, err)
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

func TestFetchTruncatedBodyGivesUp(t *testing.T) {
	s, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload[:100])
	})
	f := newFetcher(t)
	u := s.URL + "/a"
	_, err := f.Fetch(context.Background(), []string{u}, sum(payload))
	if err == nil || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "unexpected EOF") || !strings.Contains(err.Error(), "after 3 tries") {
		t.Fatalf("got %v", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}
	if files := cacheFiles(t, f.CacheDir); len(files) != 0 {
		t.Errorf("cache holds %v", files)
	}
}

// The connection is reset (RST) in the middle of the body, then the retry
// succeeds.
func TestFetchConnectionResetRetried(t *testing.T) {
	var first atomic.Bool
	first.Store(true)
	s, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		if !first.Swap(false) {
			serve(payload)(w, r)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(payload))
		buf.Write(payload[:1000])
		buf.Flush()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})
	f := newFetcher(t)
	got, err := f.Fetch(context.Background(), []string{s.URL + "/a"}, sum(payload))
	assertFetched(t, f, got, err)
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

func TestFetch404ThenNextMirror(t *testing.T) {
	m1, n1 := server(t, http.NotFound)
	m2, n2 := server(t, serve(payload))
	f := newFetcher(t)
	up := "https://github.com/containerd/containerd/releases/download/v2.3.4/c.tar.gz"
	got, err := f.Fetch(context.Background(), Candidates([]string{m1.URL, m2.URL}, up, false), sum(payload))
	assertFetched(t, f, got, err)
	if n1.Load() != 1 || n2.Load() != 1 {
		t.Errorf("requests: mirror1 %d (404 must not be retried), mirror2 %d", n1.Load(), n2.Load())
	}
}

func TestFetch500Retried(t *testing.T) {
	var left atomic.Int32
	left.Store(2)
	s, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		if left.Add(-1) >= 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		serve(payload)(w, r)
	})
	f := newFetcher(t)
	got, err := f.Fetch(context.Background(), []string{s.URL + "/a"}, sum(payload))
	assertFetched(t, f, got, err)
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}
}

func TestFetchAllFailListsEverySource(t *testing.T) {
	m1, _ := server(t, http.NotFound)
	m2, n2 := server(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	f := newFetcher(t)
	c := []string{m1.URL + "/a", m2.URL + "/a", "file:///nonexistent/a", "ftp://x/a"}
	_, err := f.Fetch(context.Background(), c, sum(payload))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		m1.URL + "/a: HTTP 404 Not Found",
		m2.URL + "/a: HTTP 500 Internal Server Error (after 3 tries)",
		"file:///nonexistent/a: open /nonexistent/a: no such file or directory",
		"ftp://x/a: unsupported URL scheme",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if n2.Load() != 3 {
		t.Errorf("500: %d requests, want 3", n2.Load())
	}
	if _, err := f.Fetch(context.Background(), nil, sum(payload)); err == nil || !strings.Contains(err.Error(), "no source") {
		t.Errorf("no candidates: %v", err)
	}
}

func TestFetchStalledServer(t *testing.T) {
	release := make(chan struct{})
	s, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mid" {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.Write(payload[:1000])
			w.(http.Flusher).Flush()
		}
		select { // stall: before the headers (/early) or in the body (/mid)
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	f := newFetcher(t)
	f.IdleTimeout = 100 * time.Millisecond
	f.Retries = 2
	start := time.Now()
	_, err := f.Fetch(context.Background(), []string{s.URL + "/early", s.URL + "/mid"}, sum(payload))
	elapsed := time.Since(start)
	if err == nil || !errors.Is(err, ErrStalled) {
		t.Fatalf("got %v, want a stall error", err)
	}
	for _, want := range []string{s.URL + "/early: stalled: no data for 100ms (after 2 tries)", s.URL + "/mid: stalled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if elapsed > 3*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if n.Load() != 4 {
		t.Errorf("%d requests, want 4", n.Load())
	}
	if files := cacheFiles(t, f.CacheDir); len(files) != 0 {
		t.Errorf("cache holds %v", files)
	}
}

func TestFetchRedirect(t *testing.T) {
	s, n := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusFound)
			return
		}
		serve(payload)(w, r)
	})
	f := newFetcher(t)
	got, err := f.Fetch(context.Background(), []string{s.URL + "/old"}, sum(payload))
	assertFetched(t, f, got, err)
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

func TestFetchFileMirror(t *testing.T) {
	mirror := t.TempDir()
	up := "https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz"
	local := filepath.Join(mirror, "github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz")
	os.MkdirAll(filepath.Dir(local), 0o755)
	os.WriteFile(local, payload, 0o644)
	f := newFetcher(t)
	got, err := f.Fetch(context.Background(), Candidates([]string{"file://" + mirror}, up, false), sum(payload))
	assertFetched(t, f, got, err)
}

func TestFetchNoUpstream(t *testing.T) {
	up, nUp := server(t, serve(payload))
	m, nM := server(t, http.NotFound)
	f := newFetcher(t)
	c := Candidates([]string{m.URL}, up.URL+"/kata-static.tar.zst", false)
	_, err := f.Fetch(context.Background(), c, sum(payload))
	if err == nil {
		t.Fatal("no error")
	}
	if nUp.Load() != 0 {
		t.Errorf("upstream contacted %d times with upstream disabled", nUp.Load())
	}
	if nM.Load() != 1 {
		t.Errorf("mirror: %d requests", nM.Load())
	}
}

func TestFetchContextCancelled(t *testing.T) {
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	f := newFetcher(t)
	f.Backoff = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.Fetch(ctx, []string{s.URL + "/a", s.URL + "/b"}, sum(payload))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
}

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, true, "kata.tar.zst", 4096)
	p.last = time.Time{}
	p.Write(make([]byte, 2048))
	p.finish(nil)
	s := out.String()
	if !strings.Contains(s, "\r") || !strings.Contains(s, "kata.tar.zst [============") || !strings.Contains(s, "2.0 KiB / 4.0 KiB") || !strings.HasSuffix(s, "\n") {
		t.Errorf("bar: %q", s)
	}
	if size(3<<30) != "3.0 GiB" || size(-1) != "unknown size" || size(12) != "12 B" {
		t.Errorf("size: %s %s %s", size(3<<30), size(-1), size(12))
	}
}

// endless sends zeros until the client goes away, without a Content-Length.
func endless(w http.ResponseWriter, r *http.Request) {
	chunk := make([]byte, 32<<10)
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// trickle sends a byte whenever tick fires, without a Content-Length, until
// the client goes away.
func trickle(tick <-chan time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick:
			case <-r.Context().Done():
				return
			}
		}
	}
}

// A mirror with an endless body is cut at the size bound, leaves nothing in
// the cache, and the next mirror serves the file.
func TestFetchEndlessBodyCutThenNextMirror(t *testing.T) {
	m1, n1 := server(t, endless)
	m2, n2 := server(t, serve(payload))
	f := newFetcher(t)
	f.MaxBytes = 1 << 20
	var logged []string
	f.Log = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	got, err := f.Fetch(context.Background(), []string{m1.URL + "/a", m2.URL + "/a"}, sum(payload))
	assertFetched(t, f, got, err)
	if n1.Load() != 1 || n2.Load() != 1 {
		t.Errorf("requests: endless mirror %d (must not be retried), good mirror %d", n1.Load(), n2.Load())
	}
	want := m1.URL + "/a: too large: it has 1048577 bytes, more than the 1.0 MiB a download may have"
	if len(logged) != 1 || logged[0] != want {
		t.Errorf("log %q, want %q", logged, want)
	}
}

// A pinned size bounds the download: a source announcing or sending more is
// refused at once.
func TestFetchPinnedSize(t *testing.T) {
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/endless" {
			endless(w, r)
			return
		}
		serve(payload)(w, r)
	})
	f := newFetcher(t)
	_, err := f.FetchSized(context.Background(), []string{s.URL + "/announced", s.URL + "/endless"}, sum(payload), 1000)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	for _, want := range []string{
		s.URL + "/announced: too large: it has 110592 bytes, the pinned size is 1000",
		s.URL + "/endless: too large: it has 1001 bytes, the pinned size is 1000",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	got, err := f.FetchSized(context.Background(), []string{s.URL + "/a"}, sum(payload), int64(len(payload)))
	assertFetched(t, f, got, err)
}

// A server sending a byte now and then never trips the idle timeout; the
// rate bound cuts it and the next mirror serves the file.
func TestFetchTrickleCutByRate(t *testing.T) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	m1, n1 := server(t, trickle(tick.C))
	m2, _ := server(t, serve(payload))
	f := newFetcher(t)
	f.IdleTimeout = time.Second
	f.MinRate, f.RateWindow = 1000, 200*time.Millisecond
	start := time.Now()
	got, err := f.Fetch(context.Background(), []string{m1.URL + "/a", m2.URL + "/a"}, sum(payload))
	assertFetched(t, f, got, err)
	if n1.Load() != 1 {
		t.Errorf("the slow mirror was asked %d times, want once", n1.Load())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

// The time for one try bounds a source however it paces its bytes.
func TestFetchTryTimeout(t *testing.T) {
	m1, _ := server(t, trickle(nil))
	f := newFetcher(t)
	f.MinRate, f.RateWindow = 1, time.Hour
	f.TryTimeout = 100 * time.Millisecond
	f.MaxBytes = 1 << 40
	_, err := f.Fetch(context.Background(), []string{m1.URL + "/a"}, sum(payload))
	if !errors.Is(err, ErrTooSlow) || !strings.Contains(err.Error(), m1.URL+"/a: too slow: not done after 100ms") {
		t.Fatalf("got %v", err)
	}
}

// The total time bounds a Fetch however many sources and retries it has.
func TestFetchTotalTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload[:10])
		w.(http.Flusher).Flush()
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	f := newFetcher(t)
	f.Timeout = 150 * time.Millisecond
	start := time.Now()
	_, err := f.Fetch(context.Background(), []string{s.URL + "/a", s.URL + "/b"}, sum(payload))
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "took too long: no source delivered it within 150ms") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

// A file:// source that is a fifo or a device is refused without blocking
// or reading forever.
func TestFetchFileSourceNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t)
	_, err := f.Fetch(context.Background(), []string{"file://" + fifo, "file:///dev/zero"}, sum(payload))
	for _, want := range []string{fifo + " is not a regular file", "/dev/zero is not a regular file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

// A symlink below the cache directory is never followed: a download cannot
// be sent outside the cache (and the node's root) through it.
func TestFetchCacheSymlinkRefused(t *testing.T) {
	s, n := server(t, serve(payload))
	elsewhere := t.TempDir()
	f := newFetcher(t)
	if err := os.Symlink(elsewhere, filepath.Join(f.CacheDir, "sha256")); err != nil {
		t.Fatal(err)
	}
	_, err := f.Fetch(context.Background(), []string{s.URL + "/a"}, sum(payload))
	want := "cache directory " + filepath.Join(f.CacheDir, "sha256") + " is a symlink or not a directory; nodeup follows no link inside its cache: remove it and run nodeup again"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests with a broken cache", n.Load())
	}
	if es, _ := os.ReadDir(elsewhere); len(es) != 0 {
		t.Fatalf("wrote outside the cache: %v", es)
	}

	// A cache entry that is a symlink is taken for damage, never read.
	os.Remove(filepath.Join(f.CacheDir, "sha256"))
	os.MkdirAll(filepath.Join(f.CacheDir, "sha256"), 0o755)
	secret := filepath.Join(elsewhere, "secret")
	os.WriteFile(secret, payload, 0o600)
	os.Symlink(secret, f.CachePath(sum(payload)))
	got, err := f.Fetch(context.Background(), []string{s.URL + "/a"}, sum(payload))
	assertFetched(t, f, got, err)
	if n.Load() != 1 {
		t.Errorf("the symlinked entry was used: %d requests", n.Load())
	}
}

// URLs whose path or host would climb out of a directory cannot name a
// file; the others map to a local HOST/PATH.
func TestLayoutPath(t *testing.T) {
	cases := []struct{ url, want, err string }{
		{"https://github.com/containerd/containerd/releases/download/v2.3.4/c.tar.gz", "github.com/containerd/containerd/releases/download/v2.3.4/c.tar.gz", ""},
		{"https://mirror.internal:8443/a%20b/c", "mirror.internal:8443/a b/c", ""},
		{"http://10.0.0.5/x", "10.0.0.5/x", ""},
		{"http://[fd00::5]:80/x", "[fd00::5]:80/x", ""},
		{"https://example.com/a/../../../etc/cron.d/x", "", `its path has a ".." segment`},
		{"https://example.com/a/%2e%2e/%2E%2E/x", "", `its path has a ".." segment (written %2e%2e)`},
		{"https://example.com/a/.%2e/x", "", `".." segment (written .%2e)`},
		{"https://example.com/a/./x", "", `"." segment`},
		{"https://example.com/a/..%2f..%2fx", "", "slash written inside a segment"},
		{"https://example.com/a/%00x", "", "control character"},
		{"https://../x", "", `its host ".." is not a host name`},
		{"https://%2e%2e/x", "", "invalid URL escape"},
		{"https://a..b/x", "", "not a host name"},
		{"https://[10.0.0.1]/x", "", "invalid IP-literal"},
		{"https:///x", "", "want http(s)://HOST/PATH"},
		{"file:///srv/x", "", "want http(s)://HOST/PATH"},
	}
	for _, c := range cases {
		got, err := LayoutPath(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("LayoutPath(%q) = %q, %v; want an error saying %q", c.url, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("LayoutPath(%q) = %q, %v; want %q", c.url, got, err, c.want)
		}
		if _, err := Within(t.TempDir(), got); err != nil {
			t.Errorf("Within refuses %q: %v", got, err)
		}
	}
	if got := Candidates([]string{"file:///srv/m"}, "https://example.com/%2e%2e/%2e%2e/etc/passwd", true); len(got) != 1 {
		t.Errorf("a mirror candidate for a URL with dot segments: %q", got)
	}
}

func TestWithin(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"a/b", "a/./b", "a/x/../b"} {
		if got, err := Within(dir, rel); err != nil || got != filepath.Join(dir, "a/b") {
			t.Errorf("Within(%q) = %q, %v", rel, got, err)
		}
	}
	for _, rel := range []string{"", ".", "..", "../x", "a/../../x", "/etc/passwd", "a/../.."} {
		if got, err := Within(dir, rel); !errors.Is(err, ErrNotAFile) {
			t.Errorf("Within(%q) = %q, %v; want ErrNotAFile", rel, got, err)
		}
	}
}

// refusedURL is a URL on this machine where nothing listens: connecting to it
// is refused.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestFetchDeadMirrorPassedOver(t *testing.T) {
	dead := refusedURL(t)
	live, n := server(t, serve(payload))
	f := newFetcher(t)
	var logged []string
	f.Log = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	up := "https://github.com/containerd/containerd/releases/download/v2.3.4/c.tar.gz"
	start := time.Now()
	got, err := f.Fetch(context.Background(), Candidates([]string{dead, live.URL}, up, false), sum(payload))
	assertFetched(t, f, got, err)
	if took := time.Since(start); took > time.Second {
		t.Errorf("failing over took %v: the dead mirror was retried", took)
	}
	if n.Load() != 1 || len(logged) != 1 || !strings.Contains(logged[0], "connection refused; passing over "+dead+" for the rest of this run") {
		t.Errorf("live mirror: %d requests; log: %q", n.Load(), logged)
	}
	// The next download passes over the dead mirror without connecting: with
	// nothing else to fall back on, the error says so.
	other := []byte("another artifact")
	_, err = f.Fetch(context.Background(), Candidates([]string{dead, live.URL + "/missing"}, up, false), sum(other))
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), dead+"/github.com/containerd/containerd/releases/download/v2.3.4/c.tar.gz: unreachable: passed over, ") {
		t.Errorf("error does not say the dead mirror was passed over:\n%v", err)
	}
	if strings.Contains(strings.Join(logged[1:], "\n"), "refused") {
		t.Errorf("the dead mirror was tried again: %q", logged)
	}
}

func TestFetchLastSourceRetriedOnConnectFailure(t *testing.T) {
	dead := refusedURL(t)
	f := newFetcher(t)
	_, err := f.Fetch(context.Background(), []string{dead + "/a"}, sum(payload))
	if err == nil || !strings.Contains(err.Error(), "connection refused (after 3 tries)") {
		t.Errorf("the only source is not retried: %v", err)
	}
}

// Downloads from one host run one after another over one connection; from
// two hosts, at once.
func TestFetchOneHostAtATime(t *testing.T) {
	other := []byte("another artifact")
	var mu sync.Mutex
	inFlight, most := 0, 0
	conns := map[string]bool{}
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		conns[r.RemoteAddr] = true
		mu.Unlock()
		defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		if r.URL.Path == "/a" {
			serve(payload)(w, r)
		} else {
			serve(other)(w, r)
		}
	})
	f := newFetcher(t)
	var wg sync.WaitGroup
	for _, c := range []struct {
		path string
		body []byte
	}{{"/a", payload}, {"/b", other}} {
		wg.Go(func() {
			if _, err := f.Fetch(context.Background(), []string{s.URL + c.path}, sum(c.body)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most != 1 || len(conns) != 1 {
		t.Errorf("%d downloads from one host at once over %d connections, want 1 over 1", most, len(conns))
	}

	// Two hosts: each holds its answer until the other's request has come.
	var both sync.WaitGroup
	both.Add(2)
	hold := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			both.Done()
			both.Wait()
			serve(b)(w, r)
		}
	}
	h1, _ := server(t, hold(payload))
	h2, _ := server(t, hold(other))
	g := newFetcher(t)
	for _, c := range []struct {
		url  string
		body []byte
	}{{h1.URL + "/a", payload}, {h2.URL + "/b", other}} {
		wg.Go(func() {
			if _, err := g.Fetch(context.Background(), []string{c.url}, sum(c.body)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
