package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// The error vocabulary. A component returns these (or wraps them); only the
// framework decides whether and when to retry.
var (
	// ErrNotConnected means the component has nowhere to send the event
	// right now (e.g. no websocket client is connected); retry later.
	ErrNotConnected = errors.New("not connected")
	// ErrClosed means the component was shut down and accepts nothing more.
	ErrClosed = errors.New("closed")
	// ErrDuplicateType means two factories were listed with the same type.
	ErrDuplicateType = errors.New("duplicate component type")
	// ErrUnknownType means the configuration names a type no factory has.
	ErrUnknownType = errors.New("unknown component type")
)

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the event is given up on and
// counted. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent. Context cancellation is also permanent for the event at hand.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type retryAfterError struct {
	err   error
	delay time.Duration
}

func (e retryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.err, e.delay)
}
func (e retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable no sooner than delay from now (e.g. an
// HTTP 429 with Retry-After). RetryAfter(nil, d) is nil.
func RetryAfter(err error, delay time.Duration) error {
	if err == nil {
		return nil
	}
	return retryAfterError{err: err, delay: delay}
}

// RetryDelay returns the delay requested with RetryAfter, if any.
func RetryDelay(err error) (time.Duration, bool) {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.delay, true
	}
	return 0, false
}

// BatchError reports per-event outcomes of a batch given to a Sink: Errs has
// one entry per event of the batch, nil for the events that were acked.
type BatchError struct {
	Errs []error
}

func (e *BatchError) Error() string {
	failed, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			failed++
		}
	}
	return fmt.Sprintf("%d of %d events failed: %v", failed, len(e.Errs), first)
}

// Backoff computes capped, jittered exponential delays: Base, 2×Base, 4×Base
// … up to Max, each with up to 50% random jitter added, never overflowing
// however many attempts are made. The zero value uses 100 ms and 30 s.
type Backoff struct {
	// Base is the first delay; zero means 100 ms.
	Base time.Duration
	// Max caps every delay (jitter included); zero means 30 s.
	Max time.Duration

	attempt int
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	base, max := b.Base, b.Max
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if max <= 0 {
		max = 30 * time.Second
	}
	d := base
	for i := 0; i < b.attempt && d < max; i++ {
		if d > max/2 {
			d = max // doubling would pass max (or overflow)
			break
		}
		d *= 2
	}
	b.attempt++
	d = min(d, max)
	if jitter := rand.N(d/2 + 1); jitter < max-d {
		return d + jitter
	}
	return max
}

// Reset starts the sequence again from Base, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Attempts returns how many delays Next has handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }

// Sleep waits for d or until ctx is done, whichever comes first, and returns
// ctx.Err() in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
