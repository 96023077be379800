package webhooksink

import (
	"sync"
	"sync/atomic"
	"time"
)

// Request outcomes, the values of the status label of
// tap_webhook_requests_total (as in the reference).
const (
	// StatusSuccess is a 2xx answer.
	StatusSuccess = "success"
	// StatusNon2xx is any other answer.
	StatusNon2xx = "non_2xx"
	// StatusError is a request that got no answer: transport error or
	// timeout.
	StatusError = "error"
)

// logEvery is the least time between two log lines about failing requests.
const logEvery = 10 * time.Second

// Stats is a snapshot of the sink's counters since it was created.
type Stats struct {
	// RequestsSuccess counts requests answered with a 2xx.
	RequestsSuccess uint64
	// RequestsNon2xx counts requests answered with another status.
	RequestsNon2xx uint64
	// RequestsError counts requests that got no answer (transport error or
	// timeout). Requests cut short by cancellation or Shutdown are not
	// counted anywhere.
	RequestsError uint64
	// Acked counts events acknowledged by a 2xx answer.
	Acked uint64
	// Retries counts requests that re-sent events after a failure.
	Retries uint64
	// DeadLettered counts events stored in webhook_dead_letters.
	DeadLettered uint64
	// LastError describes the most recent failure; "" if there was none.
	LastError string
	// LastErrorAt is when LastError happened; zero if there was none.
	LastErrorAt time.Time
}

// Requests returns the request counters by status label (StatusSuccess,
// StatusNon2xx, StatusError).
func (st Stats) Requests() map[string]uint64 {
	return map[string]uint64{
		StatusSuccess: st.RequestsSuccess,
		StatusNon2xx:  st.RequestsNon2xx,
		StatusError:   st.RequestsError,
	}
}

// counters are the live values behind Stats.
type counters struct {
	success, non2xx, errs        atomic.Uint64
	acked, retries, deadLettered atomic.Uint64
	lastLog                      atomic.Int64 // unix nanoseconds of the last failure log line

	mu        sync.Mutex
	lastErr   string
	lastErrAt time.Time
}

// Stats returns a snapshot of the sink's counters.
func (s *Sink) Stats() Stats {
	c := &s.stats
	c.mu.Lock()
	lastErr, lastAt := c.lastErr, c.lastErrAt
	c.mu.Unlock()
	return Stats{
		RequestsSuccess: c.success.Load(),
		RequestsNon2xx:  c.non2xx.Load(),
		RequestsError:   c.errs.Load(),
		Acked:           c.acked.Load(),
		Retries:         c.retries.Load(),
		DeadLettered:    c.deadLettered.Load(),
		LastError:       lastErr,
		LastErrorAt:     lastAt,
	}
}

// noteFailure records err as the last error and logs it, at most once per
// logEvery however many requests fail.
func (s *Sink) noteFailure(err error) {
	now := time.Now()
	msg := truncate(err.Error(), maxErrorLen)
	c := &s.stats
	c.mu.Lock()
	c.lastErr, c.lastErrAt = msg, now
	c.mu.Unlock()
	prev := c.lastLog.Load()
	if now.UnixNano()-prev < int64(logEvery) || !c.lastLog.CompareAndSwap(prev, now.UnixNano()) {
		return
	}
	s.log.Warn("webhook delivery failing; retrying", "error", msg,
		"requests_non_2xx", c.non2xx.Load(), "requests_error", c.errs.Load(), "retries", c.retries.Load())
}
