package atproto

import (
	"context"
	"errors"
	"sync"

	"github.com/tapkit/tap/pipeline"
)

// CursorTracker computes the firehose cursor that is safe to save.
//
// Invariant (spec Part A 9, DESIGN invariant 4): Committed is the highest seq
// S such that every tracked event with seq ≤ S is done. It never passes an
// event that is still in flight, however the events complete: events are
// tracked in seq order, but events of different DIDs finish in any order.
//
// An event is done when its Done reports nil (committed or filtered) or a
// permanent error (the lanes gave up on it: it was logged and counted, and
// the stage that failed it marked its repo). An event whose Done reports a
// context cancellation (shutdown) or any other error is not done: the cursor
// stays below it for the rest of the process, so a restart replays it.
//
// Tracking is O(1) amortised per event: in-flight events sit in a ring in
// seq order with a done flag, and the front is popped while it is done.
type CursorTracker struct {
	mu        sync.Mutex
	ring      []trackedSeq // capacity is a power of two
	head      uint64       // absolute index of the oldest entry
	n         uint64       // entries in the ring
	committed int64
	last      int64 // highest seq tracked so far
	skipped   uint64
	finished  uint64          // tracked events that finished as done
	pending   int             // tracked events whose done function was not called yet
	waiters   []chan struct{} // closed when pending drops to zero
}

type trackedSeq struct {
	seq  int64
	done bool
}

// NewCursorTracker returns a tracker whose cursor starts at committed (the
// cursor the stream was resumed from; 0 for none).
func NewCursorTracker(committed int64) *CursorTracker {
	return &CursorTracker{ring: make([]trackedSeq, 64), committed: committed, last: committed}
}

// Track registers the event with seq as in flight and returns the function
// to call once with its outcome (pipeline.Event.Done). Seqs must be tracked
// in increasing order; an event whose seq is not above every seq tracked
// before (a relay that replays or reorders) is not tracked: its done
// function is a no-op and it never holds the cursor back.
func (t *CursorTracker) Track(seq int64) func(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if seq <= t.last {
		t.skipped++
		return func(error) {}
	}
	t.last = seq
	if t.n == uint64(len(t.ring)) {
		t.grow()
	}
	idx := t.head + t.n
	t.ring[idx&t.mask()] = trackedSeq{seq: seq}
	t.n++
	t.pending++
	var once sync.Once
	return func(err error) {
		once.Do(func() { t.finish(idx, IsDone(err)) })
	}
}

// IsDone reports whether an event that finished with err counts as done for
// the cursor: nil and permanent errors do, cancellations and anything else
// do not.
func IsDone(err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, context.Canceled):
		return false // shut down before the event was finished
	default:
		return pipeline.IsPermanent(err)
	}
}

// finish records the outcome of the entry at absolute index idx; if it is
// done, the cursor advances past every done entry at the front.
func (t *CursorTracker) finish(idx uint64, done bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending--; t.pending == 0 {
		for _, w := range t.waiters {
			close(w)
		}
		t.waiters = nil
	}
	if !done {
		return // stays at the front of what is not done: the cursor stops below it
	}
	t.finished++
	t.ring[idx&t.mask()].done = true
	for t.n > 0 {
		front := &t.ring[t.head&t.mask()]
		if !front.done {
			break
		}
		t.committed = front.seq
		*front = trackedSeq{}
		t.head++
		t.n--
	}
}

// Finished returns how many tracked events finished as done (see IsDone):
// processed through the pipeline, successfully or with a permanent error.
func (t *CursorTracker) Finished() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.finished
}

// Drained returns a channel that is closed once every tracked event has
// reported its outcome (at once if none is awaited now).
func (t *CursorTracker) Drained() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := make(chan struct{})
	if t.pending == 0 {
		close(w)
		return w
	}
	t.waiters = append(t.waiters, w)
	return w
}

func (t *CursorTracker) mask() uint64 { return uint64(len(t.ring)) - 1 }

// grow doubles the ring, keeping every entry at its absolute index.
func (t *CursorTracker) grow() {
	old, oldMask := t.ring, t.mask()
	t.ring = make([]trackedSeq, 2*len(old))
	for i := t.head; i < t.head+t.n; i++ {
		t.ring[i&t.mask()] = old[i&oldMask]
	}
}

// Committed returns the highest seq below which every tracked event is
// done: the cursor that is safe to save.
func (t *CursorTracker) Committed() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed
}

// InFlight returns how many tracked events have not reported their
// outcome yet.
func (t *CursorTracker) InFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending
}

// Last returns the highest seq tracked so far (or the starting cursor).
func (t *CursorTracker) Last() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// Skipped returns how many events were not tracked because their seq was
// not above the ones tracked before.
func (t *CursorTracker) Skipped() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.skipped
}
