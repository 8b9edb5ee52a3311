package fetch

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// How often progress is shown: a bar redraws often, a log gets a line now
// and then.
const (
	barInterval  = 200 * time.Millisecond
	lineInterval = 10 * time.Second
	barWidth     = 24
)

// progress shows a download's bytes, total and rate: a redrawn bar on a
// terminal, plain lines otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	name  string
	total int64 // -1 when unknown
	done  int64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, tty bool, name string, total int64) *progress {
	now := time.Now()
	p := &progress{w: w, tty: tty, name: name, total: total, start: now, last: now}
	if !tty {
		fmt.Fprintf(w, "downloading %s (%s)\n", name, Size(total))
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	interval := lineInterval
	if p.tty {
		interval = barInterval
	}
	if now := time.Now(); now.Sub(p.last) >= interval {
		p.last = now
		p.show()
	}
	return len(b), nil
}

func (p *progress) show() {
	rate := p.rate()
	if !p.tty {
		if p.total > 0 {
			fmt.Fprintf(p.w, "downloading %s: %s of %s (%d%%), %s/s\n", p.name, Size(p.done), Size(p.total), p.done*100/p.total, Size(rate))
		} else {
			fmt.Fprintf(p.w, "downloading %s: %s, %s/s\n", p.name, Size(p.done), Size(rate))
		}
		return
	}
	bar := ""
	if p.total > 0 {
		n := int(min(p.done, p.total) * barWidth / p.total)
		bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", barWidth-n) + "] "
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s%s / %s  %s/s", p.name, bar, Size(p.done), Size(p.total), Size(rate))
}

// finish prints the last state and ends the bar's line.
func (p *progress) finish(err error) {
	elapsed := time.Since(p.start).Round(time.Millisecond)
	if p.tty {
		p.show()
		fmt.Fprintln(p.w)
		return
	}
	if err != nil {
		fmt.Fprintf(p.w, "downloading %s failed after %s of %s: %v\n", p.name, Size(p.done), Size(p.total), err)
		return
	}
	fmt.Fprintf(p.w, "downloaded %s: %s in %v, %s/s\n", p.name, Size(p.done), elapsed, Size(p.rate()))
}

func (p *progress) rate() int64 {
	s := time.Since(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return int64(float64(p.done) / s)
}

// Size formats a byte count in binary units; negative means unknown.
func Size(n int64) string {
	if n < 0 {
		return "unknown size"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
