package testbed

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestWAN checks the shaped network with one node: the round trip and the rate are at
// least what the link is set to, the mirror counts what it sends, a connection to the
// dead mirror never completes, and nothing is left once the test ends.
func TestWAN(t *testing.T) {
	var router, mirror string
	t.Run("link", func(t *testing.T) {
		w := NewWAN(t, WANOptions{Delay: 20 * time.Millisecond, Rate: 100_000_000})
		router, mirror = w.router, w.mirror
		n := Boot(t, Options{})
		w.Attach(t, n)
		if w.RTT < 40*time.Millisecond {
			t.Errorf("connecting took %v, less than the 40ms round trip", w.RTT)
		}
		a := ReadManifest(t).Get(t, "crictl", "")
		before := w.Served()
		var took time.Duration
		var got int64
		err := inNetns(fmt.Sprintf("/proc/%d/ns/net", n.pid), func() (err error) {
			start := time.Now()
			got, err = get(w.URL + "/" + a.Path)
			took = time.Since(start)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != a.Size {
			t.Errorf("got %d bytes of %s, want %d", got, a.Path, a.Size)
		}
		if least := time.Duration(a.Size * 8 * int64(time.Second) / w.Options.Rate); took < least {
			t.Errorf("%d bytes took %v, less than %v at %d bit/s", a.Size, took, least, w.Options.Rate)
		}
		if s := w.Served(); s.Bytes-before.Bytes != a.Size || s.Requests-before.Requests != 1 {
			t.Errorf("the mirror counted %+v since %+v, want %d bytes in one request", s, before, a.Size)
		}
		t.Logf("%s: connect %v, %d MB in %v; link %+v", w, w.RTT, a.Size/1e6, took, w.Link())
		err = inNetns(fmt.Sprintf("/proc/%d/ns/net", n.pid), func() error {
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(w.DeadURL, "http://"), 2*time.Second)
			if err == nil {
				c.Close()
				return fmt.Errorf("connected to the dead mirror %s", w.DeadURL)
			}
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				return fmt.Errorf("the dead mirror answered: %v (want no answer at all)", err)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	for _, ns := range []string{router, mirror} {
		if _, err := os.Stat(nsPath(ns)); !os.IsNotExist(err) {
			t.Errorf("namespace %s left behind: %v", ns, err)
		}
	}
}

// get downloads u over a connection made in the calling thread's network namespace
// and returns the body's size.
func get(u string) (int64, error) {
	host, path, _ := strings.Cut(strings.TrimPrefix(u, "http://"), "/")
	c, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := fmt.Fprintf(c, "GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}
