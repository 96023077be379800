package webhooksink

import (
	"context"
	"fmt"
	"time"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// chunk is the events of one POST: batch[lo:hi] of a Deliver call, and the
// body that carries them.
type chunk struct {
	lo, hi int
	events []pipeline.Delivery
	body   []byte
}

// split cuts batch into POSTs of up to size events. With size 1 the body is
// the event JSON itself (not copied); above 1 it is a JSON array of them.
func split(batch []pipeline.Delivery, size int) []chunk {
	chunks := make([]chunk, 0, (len(batch)+size-1)/size)
	for lo := 0; lo < len(batch); lo += size {
		hi := min(lo+size, len(batch))
		c := chunk{lo: lo, hi: hi, events: batch[lo:hi]}
		if size == 1 {
			c.body = batch[lo].JSON
		} else {
			c.body = jsonArray(c.events)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

// jsonArray joins the events' JSON into one array.
func jsonArray(events []pipeline.Delivery) []byte {
	n := 1 + len(events)
	for _, ev := range events {
		n += len(ev.JSON)
	}
	body := make([]byte, 0, n)
	body = append(body, '[')
	for i, ev := range events {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, ev.JSON...)
	}
	return append(body, ']')
}

// deliverChunk POSTs c until it is acknowledged or dead-lettered (nil), or
// until ctx ends (the cause, with the last failure for context). Delays
// between attempts follow the backoff or the receiver's Retry-After.
func (s *Sink) deliverChunk(ctx context.Context, c chunk) error {
	b := pipeline.Backoff{Base: s.cfg.RetryMin, Max: s.cfg.RetryMax}
	var last error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			s.stats.retries.Add(1)
		}
		err := s.post(ctx, c.body)
		if err == nil {
			s.stats.acked.Add(uint64(len(c.events)))
			return nil
		}
		if ctx.Err() != nil {
			return stopped(ctx, last)
		}
		last = err
		s.noteFailure(err)
		if s.giveUp(ctx, c, attempt, err) {
			return nil
		}
		if pipeline.Sleep(ctx, retryDelay(&b, err)) != nil {
			return stopped(ctx, last)
		}
	}
}

// retryDelay is the wait before the next attempt: what the receiver asked
// for with Retry-After, else the next backoff step. The backoff advances
// either way, so that a receiver alternating both cannot reset it.
func retryDelay(b *pipeline.Backoff, err error) time.Duration {
	d := b.Next()
	if ra, ok := pipeline.RetryDelay(err); ok {
		return ra
	}
	return d
}

// stopped is Deliver's error for events left unacknowledged because ctx
// ended: the cause (pipeline.ErrClosed on Shutdown), with the last failure.
func stopped(ctx context.Context, last error) error {
	cause := context.Cause(ctx)
	if last == nil {
		return cause
	}
	return fmt.Errorf("%w (last attempt: %v)", cause, last)
}

// giveUp stores c's events as dead letters once attempts reached
// dead_letter_after, and reports whether it did. A failed write keeps the
// events in delivery.
func (s *Sink) giveUp(ctx context.Context, c chunk, attempts int, last error) bool {
	if s.cfg.DeadLetterAfter <= 0 || attempts < s.cfg.DeadLetterAfter || s.dead == nil {
		return false
	}
	rows := make([]store.DeadLetter, len(c.events))
	ids := make([]uint64, len(c.events))
	msg := truncate(last.Error(), maxErrorLen)
	for i, ev := range c.events {
		rows[i] = store.DeadLetter{ID: int64(ev.ID), DID: ev.DID, Data: string(ev.JSON), Attempts: attempts, LastError: msg}
		ids[i] = ev.ID
	}
	if err := s.dead.AddDeadLetters(ctx, rows); err != nil {
		s.noteFailure(fmt.Errorf("storing dead letters: %w", err))
		return false
	}
	s.stats.deadLettered.Add(uint64(len(rows)))
	s.log.Warn("gave up on events; stored them in webhook_dead_letters",
		"ids", ids, "attempts", attempts, "error", msg)
	return true
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
