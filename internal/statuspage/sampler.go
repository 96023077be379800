package statuspage

import (
	"sync"
	"time"
)

// counters is one reading of the monotonic event counters the chart is drawn from.
type counters struct {
	at                time.Time
	in, out, firehose uint64
}

// sampler keeps the last readings of the counters in a ring of fixed size.
type sampler struct {
	mu   sync.Mutex
	ring []counters
	next int
	n    int
}

func newSampler(size int) *sampler { return &sampler{ring: make([]counters, size)} }

func (s *sampler) add(c counters) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = c
	s.next = (s.next + 1) % len(s.ring)
	s.n = min(s.n+1, len(s.ring))
}

// rates returns the per-second rates between consecutive readings, oldest first.
func (s *sampler) rates() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n < 2 {
		return []Sample{}
	}
	first := (s.next - s.n + len(s.ring)) % len(s.ring)
	out := make([]Sample, 0, s.n-1)
	prev := s.ring[first]
	for i := 1; i < s.n; i++ {
		c := s.ring[(first+i)%len(s.ring)]
		dt := c.at.Sub(prev.at).Seconds()
		out = append(out, Sample{At: c.at, In: rate(prev.in, c.in, dt), Out: rate(prev.out, c.out, dt),
			Firehose: rate(prev.firehose, c.firehose, dt)})
		prev = c
	}
	return out
}

// rate is the per-second increase from a to b over dt seconds; 0 when the counter went back
// (a component restarted) or no time passed.
func rate(a, b uint64, dt float64) float64 {
	if b < a || dt <= 0 {
		return 0
	}
	return float64(b-a) / dt
}
