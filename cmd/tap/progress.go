package main

import (
	"fmt"
	"io"
	"time"
)

// ttyProgressInterval bounds how often progress is redrawn on a terminal.
const ttyProgressInterval = 100 * time.Millisecond

// progress reports how far a long operation is, on stderr: redrawn in
// place on a terminal, one line per step otherwise.
type progress struct {
	w     io.Writer
	verb  string // "added", "removed"
	total int
	tty   bool
	start time.Time
	drawn time.Time
	now   func() time.Time
}

// newProgress returns a reporter for total items, or nil (which reports
// nothing) when on is false.
func newProgress(w io.Writer, on bool, verb string, total int) *progress {
	if !on {
		return nil
	}
	p := &progress{w: w, verb: verb, total: total, tty: isTerminal(w), now: time.Now}
	p.start = p.now()
	return p
}

// update reports done of total items.
func (p *progress) update(done int) {
	if p == nil {
		return
	}
	now := p.now()
	if p.tty && done < p.total && now.Sub(p.drawn) < ttyProgressInterval {
		return
	}
	p.drawn = now
	line := fmt.Sprintf("%s %d/%d (%d%%) %s", p.verb, done, p.total, done*100/max(p.total, 1), rate(done, now.Sub(p.start)))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		if done >= p.total {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

// fail ends a redrawn line so that an error starts on its own line.
func (p *progress) fail() {
	if p != nil && p.tty && !p.drawn.IsZero() {
		fmt.Fprintln(p.w)
	}
}

// rate renders n items in d as "850/s" or "3.1k/s".
func rate(n int, d time.Duration) string {
	if d <= 0 {
		return "-/s"
	}
	r := float64(n) / d.Seconds()
	if r >= 1000 {
		return fmt.Sprintf("%.1fk/s", r/1000)
	}
	return fmt.Sprintf("%.0f/s", r)
}
