package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func TestStreamReadsWhileDownloading(t *testing.T) {
	releaseCh := make(chan struct{})
	release := sync.OnceFunc(func() { close(releaseCh) })
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload[:len(payload)/2])
		w.(http.Flusher).Flush()
		<-releaseCh
		w.Write(payload[len(payload)/2:])
	})
	t.Cleanup(release) // after the server's own, so it runs first
	f := newFetcher(t)
	st := f.Stream(context.Background(), []string{s.URL + "/a"}, sum(payload), -1)
	defer st.Close()
	r, _ := st.Open()
	// Half the file arrives before the server sends the rest.
	half := make([]byte, len(payload)/2)
	if _, err := io.ReadFull(r, half); err != nil {
		t.Fatal(err)
	}
	release()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(half, rest...), payload) {
		t.Error("the stream's bytes differ from the file's")
	}
	got, err := st.Wait()
	assertFetched(t, f, got, err)
	// Once the fetch is over, a new reader reads the cached file.
	r2, _ := st.Open()
	if all, err := io.ReadAll(r2); err != nil || !bytes.Equal(all, payload) {
		t.Errorf("reading after the fetch: %d bytes, %v", len(all), err)
	}
}

func TestStreamRestartedTry(t *testing.T) {
	releaseCh := make(chan struct{})
	release := sync.OnceFunc(func() { close(releaseCh) })
	var first atomic.Bool
	first.Store(true)
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if !first.Swap(false) {
			serve(payload)(w, r)
			return
		}
		conn, buf, _ := w.(http.Hijacker).Hijack()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(payload))
		buf.Write(payload[:1000])
		buf.Flush()
		<-releaseCh
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})
	t.Cleanup(release) // after the server's own, so it runs first
	f := newFetcher(t)
	st := f.Stream(context.Background(), []string{s.URL + "/a"}, sum(payload), -1)
	defer st.Close()
	r, _ := st.Open()
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := io.ReadAll(r); !errors.Is(err, ErrRestarted) {
		t.Errorf("a reader of the failed try: %v, want ErrRestarted", err)
	}
	got, err := st.Wait()
	assertFetched(t, f, got, err)
}

func TestStreamWrongBytesNeverEOF(t *testing.T) {
	wrong := bytes.ToUpper(payload)
	releaseCh := make(chan struct{})
	release := sync.OnceFunc(func() { close(releaseCh) })
	s, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(wrong)))
		w.Write(wrong[:len(wrong)-1])
		w.(http.Flusher).Flush()
		<-releaseCh
		w.Write(wrong[len(wrong)-1:])
	})
	t.Cleanup(release) // after the server's own, so it runs first
	f := newFetcher(t)
	st := f.Stream(context.Background(), []string{s.URL + "/a"}, sum(payload), -1)
	defer st.Close()
	r, _ := st.Open()
	// Every byte but the last is read before the file can be checked.
	if _, err := io.ReadFull(r, make([]byte, len(wrong)-1)); err != nil {
		t.Fatal(err)
	}
	release()
	if rest, err := io.ReadAll(r); err == nil || !errors.Is(err, ErrChecksum) {
		t.Errorf("a reader of bytes that do not match: %d more bytes, %v; want the checksum error", len(rest), err)
	}
	if _, err := st.Wait(); !errors.Is(err, ErrChecksum) {
		t.Errorf("Wait: %v", err)
	}
}

func TestStreamCacheHit(t *testing.T) {
	s, n := server(t, serve(payload))
	f := newFetcher(t)
	if _, err := f.Fetch(context.Background(), []string{s.URL + "/a"}, sum(payload)); err != nil {
		t.Fatal(err)
	}
	st := f.Stream(context.Background(), []string{s.URL + "/a"}, sum(payload), -1)
	defer st.Close()
	r, _ := st.Open()
	if all, err := io.ReadAll(r); err != nil || !bytes.Equal(all, payload) {
		t.Errorf("cache hit: %d bytes, %v", len(all), err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}
