// Package fetchtest is an HTTP server laid out as a nodeup mirror
// (M/HOST/PATH), for tests that download artifacts.
package fetchtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nodeup/nodeup/node/digest"
)

// Mirror serves what Put gave it and counts requests.
type Mirror struct {
	// URL is the mirror's base URL, as a profile's mirror.urls holds it.
	URL   string
	mu    sync.Mutex
	files map[string][]byte // URL path -> content
	hits  map[string]int
}

// NewMirror starts a mirror that stops when the test ends.
func NewMirror(t testing.TB) *Mirror {
	m := &Mirror{files: map[string][]byte{}, hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		b, ok := m.files[r.URL.Path]
		m.hits[r.URL.Path]++
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

// Put serves content as the mirror copy of upstream URL and returns the
// content's sha256.
func (m *Mirror) Put(upstream string, content []byte) string {
	u := strings.TrimPrefix(strings.TrimPrefix(upstream, "https://"), "http://")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files["/"+u] = content
	return digest.Bytes(content)
}

// Requests counts the requests the mirror answered, found or not.
func (m *Mirror) Requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, h := range m.hits {
		n += h
	}
	return n
}
