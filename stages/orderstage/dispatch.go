package orderstage

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapkit/tap/pipeline"
)

// dispatcher delivers the events the engine released to one sink: its workers take what is
// ready in batches of up to batch events and call Deliver, at most workers calls at a time.
// A failed event is retried by the worker that holds it, with its own capped, jittered backoff,
// until the sink acks it or the stage stops: a failing sink is retried alone while the other
// sinks' dispatchers go on.
type dispatcher struct {
	id       pipeline.ID
	sink     pipeline.Sink
	eng      *engine
	log      *slog.Logger
	batch    int
	workers  int
	retryMin time.Duration
	retryMax time.Duration

	mu    sync.Mutex
	queue []*entry // released, not yet taken by a worker, from head on
	head  int
	wake  chan struct{}

	delivered, acked, failed, permanent, retried atomic.Uint64
	errMu                                        sync.Mutex
	lastErr                                      string
	lastErrAt                                    time.Time
}

// push queues released events and wakes a worker.
func (d *dispatcher) push(rel []*entry) {
	d.mu.Lock()
	d.queue = append(d.queue, rel...)
	d.mu.Unlock()
	d.signal()
}

// signal wakes one idle worker, if none is already being woken.
func (d *dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// take removes up to d.batch ready events; if more remain it wakes another worker.
func (d *dispatcher) take() []*entry {
	d.mu.Lock()
	n := min(d.batch, len(d.queue)-d.head)
	if n == 0 {
		d.mu.Unlock()
		return nil
	}
	batch := make([]*entry, n)
	copy(batch, d.queue[d.head:])
	clear(d.queue[d.head : d.head+n])
	d.head += n
	more := d.head < len(d.queue)
	if !more {
		d.queue, d.head = d.queue[:0], 0
	} else if d.head >= 1024 && d.head*2 >= len(d.queue) {
		k := copy(d.queue, d.queue[d.head:])
		clear(d.queue[k:])
		d.queue, d.head = d.queue[:k], 0
	}
	d.mu.Unlock()
	if more {
		d.signal()
	}
	return batch
}

// queued returns how many released events wait for a worker.
func (d *dispatcher) queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue) - d.head
}

// run starts the workers; they return once stop is closed (after the Deliver call in
// progress) or ctx ends.
func (d *dispatcher) run(ctx context.Context, stop <-chan struct{}, wg *sync.WaitGroup) {
	for range d.workers {
		wg.Go(func() { d.work(ctx, stop) })
	}
}

func (d *dispatcher) work(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		batch := d.take()
		if len(batch) == 0 {
			select {
			case <-d.wake:
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
			continue
		}
		d.deliver(ctx, stop, batch)
	}
}

// deliver hands batch to the sink until every event is acked, retrying only the events that
// failed. It gives up, leaving the rest unacked (they stay in the outbox), when stop is closed
// or ctx ends.
func (d *dispatcher) deliver(ctx context.Context, stop <-chan struct{}, batch []*entry) {
	bo := pipeline.Backoff{Base: d.retryMin, Max: d.retryMax}
	for attempt := 0; ; attempt++ {
		ds := make([]pipeline.Delivery, len(batch))
		for i, en := range batch {
			ds[i] = en.d
		}
		d.delivered.Add(uint64(len(ds)))
		if attempt > 0 {
			d.eng.redelivered.Add(uint64(len(ds)))
			d.retried.Add(uint64(len(ds)))
		}
		err := d.sink.Deliver(ctx, ds)
		failed, errs := d.settle(batch, err)
		if len(failed) == 0 {
			if attempt > 0 {
				d.log.Info("sink delivery recovered", "sink", d.id.String(), "events", len(batch), "attempts", attempt+1)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		delay := d.retryDelay(&bo, errs)
		d.noteFailure(len(failed), errs[0], attempt, delay)
		if !wait(ctx, stop, delay) {
			return
		}
		batch = failed
	}
}

// settle acks the events of batch that err says were acked and returns the others with their
// errors (errs has one entry per failed event).
func (d *dispatcher) settle(batch []*entry, err error) (failed []*entry, errs []error) {
	if err == nil {
		d.acked.Add(uint64(len(batch)))
		d.eng.ack(batch)
		return nil, nil
	}
	var be *pipeline.BatchError
	if !errors.As(err, &be) || len(be.Errs) != len(batch) {
		if be != nil {
			d.log.Warn("sink returned a BatchError of the wrong length; retrying the whole batch",
				"sink", d.id.String(), "events", len(batch), "errors", len(be.Errs))
		}
		errs = make([]error, len(batch))
		for i := range errs {
			errs[i] = err
		}
		return batch, errs
	}
	var acked []*entry
	for i, en := range batch {
		if be.Errs[i] == nil {
			acked = append(acked, en)
		} else {
			failed = append(failed, en)
			errs = append(errs, be.Errs[i])
		}
	}
	if len(acked) > 0 {
		d.acked.Add(uint64(len(acked)))
		d.eng.ack(acked)
	}
	return failed, errs
}

// retryDelay is the pause before failed events are retried: the longest delay a sink asked for
// with pipeline.RetryAfter, else the next backoff step; retry_max after a Permanent error,
// which is retried all the same (at-least-once; a dead-letter policy is the sink's business).
func (d *dispatcher) retryDelay(bo *pipeline.Backoff, errs []error) time.Duration {
	var (
		permanent int
		asked     time.Duration
		hasAsked  bool
	)
	for _, err := range errs {
		if pipeline.IsPermanent(err) {
			permanent++
		}
		if r, ok := pipeline.RetryDelay(err); ok {
			asked, hasAsked = max(asked, r), true
		}
	}
	next := bo.Next()
	switch {
	case permanent > 0:
		d.permanent.Add(uint64(permanent))
		return d.retryMax
	case hasAsked:
		return max(asked, d.retryMin)
	default:
		return next
	}
}

// noteFailure counts and logs a failed attempt: at warn for a batch's first failure only.
func (d *dispatcher) noteFailure(n int, err error, attempt int, delay time.Duration) {
	d.failed.Add(uint64(n))
	d.errMu.Lock()
	d.lastErr, d.lastErrAt = err.Error(), time.Now()
	d.errMu.Unlock()
	level := slog.LevelDebug
	if attempt == 0 {
		level = slog.LevelWarn
	}
	d.log.Log(context.Background(), level, "sink delivery failed; retrying",
		"sink", d.id.String(), "events", n, "attempt", attempt+1, "retry_in", delay, "error", err)
}

// stats returns the sink's counters.
func (d *dispatcher) stats() SinkStats {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return SinkStats{
		ID: d.id, Delivered: d.delivered.Load(), Acked: d.acked.Load(), Failed: d.failed.Load(),
		Permanent: d.permanent.Load(), Retried: d.retried.Load(), Queued: d.queued(), LastError: d.lastErr, LastErrorAt: d.lastErrAt,
	}
}

// wait sleeps for delay; it returns false if stop is closed or ctx ends first.
func wait(ctx context.Context, stop <-chan struct{}, delay time.Duration) bool {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}
