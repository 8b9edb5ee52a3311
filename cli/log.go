package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nodeup/nodeup/node/fetch"
)

// newLogger is the logger of stderr: text lines ("warning: ...",
// timestamped when stderr is not a terminal, as cloud-init logs keep it),
// or one JSON object a line.
func newLogger(w io.Writer, format string, stamp, color bool) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: jsonAttr}))
	}
	return slog.New(&textHandler{w: w, stamp: stamp, color: color, mu: &sync.Mutex{}})
}

// jsonAttr writes times in UTC and levels as the text form names them.
func jsonAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String(slog.TimeKey, a.Value.Time().UTC().Format(time.RFC3339Nano))
	case slog.LevelKey:
		return slog.String(slog.LevelKey, levelName(a.Value.Any().(slog.Level)))
	case slog.MessageKey:
		return slog.String(slog.MessageKey, printable(a.Value.String()))
	}
	return a
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

// textHandler writes "LEVEL: message key=value" lines.
type textHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	stamp bool
	color bool
	attrs []slog.Attr
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if h.stamp {
		b.WriteString(r.Time.UTC().Format(time.RFC3339))
		b.WriteByte(' ')
	}
	level := levelName(r.Level)
	switch {
	case h.color && r.Level >= slog.LevelError:
		level = paint(red, level)
	case h.color && r.Level >= slog.LevelWarn:
		level = paint(yellow, level)
	}
	b.WriteString(level)
	b.WriteString(": ")
	b.WriteString(printable(r.Message))
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%s", a.Key, printable(a.Value.String()))
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *textHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *textHandler) WithGroup(string) slog.Handler { return h }

// lineInterval is how often a download that is not on a terminal says how
// far it got.
const lineInterval = 10 * time.Second

// logBars shows downloads as log records: a line when one starts, now and
// then while it runs, and when it ends.
type logBars struct {
	io.Writer // unused: fetch needs a writer to find Bars on
	log       *slog.Logger
}

func (l logBars) Bar(name string, total int64) fetch.Bar {
	now := time.Now()
	b := &logBar{log: l.log, name: name, total: total, start: now, last: now}
	l.log.Info(fmt.Sprintf("downloading %s (%s)", name, fetch.Size(total)), "download", name, "total_bytes", total)
	return b
}

type logBar struct {
	log         *slog.Logger
	name        string
	total, done int64
	start, last time.Time
}

func (b *logBar) Add(n int) {
	b.done += int64(n)
	if now := time.Now(); now.Sub(b.last) >= lineInterval {
		b.last = now
		msg := fmt.Sprintf("downloading %s: %s of %s, %s/s", b.name, fetch.Size(b.done), fetch.Size(b.total), fetch.Size(rate(b.done, b.start)))
		if b.total > 0 {
			msg = fmt.Sprintf("downloading %s: %s of %s (%d%%), %s/s", b.name, fetch.Size(b.done), fetch.Size(b.total), b.done*100/b.total, fetch.Size(rate(b.done, b.start)))
		}
		b.log.Info(msg, "download", b.name, "bytes", b.done, "total_bytes", b.total)
	}
}

func (b *logBar) Done(err error) {
	elapsed := time.Since(b.start)
	if err != nil {
		b.log.Warn(fmt.Sprintf("downloading %s failed after %s of %s: %v", b.name, fetch.Size(b.done), fetch.Size(b.total), err),
			"download", b.name, "bytes", b.done, "total_bytes", b.total)
		return
	}
	b.log.Info(fmt.Sprintf("downloaded %s: %s in %s, %s/s", b.name, fetch.Size(b.done), elapsed.Round(time.Millisecond), fetch.Size(rate(b.done, b.start))),
		"download", b.name, "bytes", b.done, "seconds", elapsed.Seconds())
}

func rate(done int64, start time.Time) int64 {
	s := time.Since(start).Seconds()
	if s <= 0 {
		return 0
	}
	return int64(float64(done) / s)
}
