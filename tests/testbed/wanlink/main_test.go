package main

import (
	"testing"
	"time"

	"github.com/nodeup/nodeup/tests/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }

func TestLineAdmit(t *testing.T) {
	l := &line{rate: 8_000_000, delay: 20 * time.Millisecond, queue: 3 * time.Millisecond} // 1 byte/µs
	t0 := time.Unix(0, 0)
	at, ok := l.admit(t0, 1000)
	if !ok || at.Sub(t0) != 21*time.Millisecond {
		t.Errorf("first packet arrives after %v, want 1ms to send + 20ms", at.Sub(t0))
	}
	// Sent after the first, not beside it.
	if at, _ := l.admit(t0, 1000); at.Sub(t0) != 22*time.Millisecond {
		t.Errorf("second packet arrives after %v, want 22ms", at.Sub(t0))
	}
	for range 2 {
		l.admit(t0, 1000)
	}
	// 4ms of packets wait to be sent: over the 3ms queue, dropped.
	if _, ok := l.admit(t0, 1000); ok {
		t.Error("a packet beyond the queue was admitted")
	}
	// An idle link sends at once.
	if at, _ := l.admit(t0.Add(time.Second), 1000); at.Sub(t0) != time.Second+21*time.Millisecond {
		t.Errorf("after idling, arrives at %v", at.Sub(t0))
	}
}
