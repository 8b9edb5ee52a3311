package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nodeup/nodeup/node/fetch"
)

// drawInterval bounds how often the bars are redrawn.
const drawInterval = 100 * time.Millisecond

const barWidth = 24

// screen keeps one progress bar per running download at the bottom of a
// terminal, and writes every other line above them: parallel downloads
// each keep their own line, and log and step lines never mix with a bar.
// Lines are written whole; a partial line waits for its end.
type screen struct {
	mu       sync.Mutex
	term     io.Writer
	guard    func(string) string // the stream guard of secrets, for what the screen writes itself
	color    bool
	width    int
	bars     []*termBar
	drawn    int // lines of bars on the terminal now
	lastDraw time.Time
	writers  []*screenWriter
}

func newScreen(term io.Writer, color bool, guard func(string) string) *screen {
	return &screen{term: term, color: color, guard: guard, width: terminalWidth(term)}
}

// screenWriter is one stream (stdout or stderr) on a screen's terminal.
type screenWriter struct {
	s       *screen
	w       io.Writer
	pending []byte
}

func (s *screen) writer(w io.Writer) *screenWriter {
	sw := &screenWriter{s: s, w: w}
	s.writers = append(s.writers, sw)
	return sw
}

func (sw *screenWriter) Write(b []byte) (int, error) {
	s := sw.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sw.pending = append(sw.pending, b...)
	i := bytes.LastIndexByte(sw.pending, '\n')
	if i < 0 {
		return len(b), nil
	}
	s.clear()
	_, err := sw.w.Write(sw.pending[:i+1])
	sw.pending = append(sw.pending[:0], sw.pending[i+1:]...)
	s.draw()
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

// close writes what is left of partial lines and the bars' last state.
func (s *screen) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
	for _, sw := range s.writers {
		if len(sw.pending) > 0 {
			_, _ = sw.w.Write(sw.pending)
			sw.pending = nil
		}
	}
	s.bars = nil
}

// clear removes the bars from the terminal. Callers hold mu.
func (s *screen) clear() {
	if s.drawn > 0 {
		// Up to the first bar line, then erase to the end of the screen.
		fmt.Fprintf(s.term, "\r\x1b[%dA\x1b[J", s.drawn)
		s.drawn = 0
	}
}

// draw writes every bar, one line each. Callers hold mu.
func (s *screen) draw() {
	var b strings.Builder
	for _, bar := range s.bars {
		b.WriteString(s.guard(bar.line(s.width, s.color)))
		b.WriteByte('\n')
	}
	if b.Len() > 0 {
		_, _ = io.WriteString(s.term, b.String())
	}
	s.drawn = len(s.bars)
	s.lastDraw = time.Now()
}

// Bar adds a download's bar (fetch.Bars).
func (s *screen) Bar(name string, total int64) fetch.Bar {
	s.mu.Lock()
	defer s.mu.Unlock()
	bar := &termBar{s: s, name: printable(name), total: total, start: time.Now()}
	s.bars = append(s.bars, bar)
	s.clear()
	s.draw()
	return bar
}

// Write makes a screen a fetch.Progress writer; fetch sees it implements
// Bars and never writes to it.
func (s *screen) Write(b []byte) (int, error) { return len(b), nil }

type termBar struct {
	s     *screen
	name  string
	total int64
	done  int64
	start time.Time
}

func (b *termBar) Add(n int) {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	b.done += int64(n)
	if time.Since(s.lastDraw) >= drawInterval {
		s.clear()
		s.draw()
	}
}

// Done takes the bar away and leaves one line that says how the download
// ended.
func (b *termBar) Done(err error) {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.bars {
		if x == b {
			s.bars = append(s.bars[:i], s.bars[i+1:]...)
			break
		}
	}
	s.clear()
	p := painter(s.color)
	elapsed := time.Since(b.start).Round(time.Millisecond)
	var line string
	if err != nil {
		line = fmt.Sprintf("%s %s failed after %s of %s: %s\n", p.paint(red, "✗"), b.name, fetch.Size(b.done), fetch.Size(b.total), printable(err.Error()))
	} else {
		line = fmt.Sprintf("%s downloaded %s: %s in %s, %s/s\n", p.paint(green, "✓"), b.name, fetch.Size(b.done), elapsed, fetch.Size(rate(b.done, b.start)))
	}
	_, _ = io.WriteString(s.term, s.guard(line))
	s.draw()
}

// nameWidth is the column of download names: bars line up below each
// other.
const nameWidth = 28

// line is the bar as one terminal line no wider than width:
// NAME [=====>    ] DONE / TOTAL  RATE/s.
func (b *termBar) line(width int, color bool) string {
	text := fmt.Sprintf("%s / %s  %s/s", fetch.Size(b.done), fetch.Size(b.total), fetch.Size(rate(b.done, b.start)))
	name := []rune(b.name)
	if len(name) > nameWidth {
		name = append(name[:nameWidth-1], '…')
	}
	line := fmt.Sprintf("%-*s ", nameWidth, string(name))
	if b.total > 0 && width >= nameWidth+barWidth+len(text)+4 {
		n := int(min(b.done, b.total) * barWidth / b.total)
		fill := strings.Repeat("=", n)
		if n < barWidth {
			fill += ">" + strings.Repeat(" ", barWidth-n-1)
		}
		line += "[" + painter(color).paint(cyan, fill) + "] "
	}
	return line + text
}
