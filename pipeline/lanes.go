package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// LanesConfig sizes the lanes.
type LanesConfig struct {
	// Workers is how many events of different DIDs run at once
	// (TAP_FIREHOSE_PARALLELISM).
	Workers int
	// Capacity bounds the events queued across all DIDs; Submit blocks
	// while it is reached.
	Capacity int
	// Retry paces retries of an event whose processing failed with a
	// retryable error; the zero value uses Backoff's defaults.
	Retry Backoff
}

// LanesStats is a snapshot of the lanes' counters.
type LanesStats struct {
	Queued    int    // events waiting or running now
	DIDs      int    // DIDs with queued or running events now
	Processed uint64 // events the chain finished successfully
	Failed    uint64 // events given up on with a permanent error
	Retries   uint64 // retries after retryable errors
}

// Lanes runs a handler over events, serially per DID and in parallel across
// DIDs. A DID with queued events is scheduled on the next free worker; it
// runs one event per turn and goes to the back of the line, so a busy DID
// cannot starve the others, and one slow DID holds up only itself.
type Lanes struct {
	cfg     LanesConfig
	handler func(ctx context.Context, ev *Event) error
	logger  *slog.Logger

	slots chan struct{} // one token per queued event: bounds memory
	ready chan *didQueue

	mu     sync.Mutex
	queues map[string]*didQueue
	closed bool

	runCtx    context.Context
	cancelRun context.CancelFunc
	stop      chan struct{} // closed when Shutdown begins: no more submits
	drained   chan struct{} // closed once stopped and nothing is queued
	wg        sync.WaitGroup
	startOnce sync.Once
	stopOnce  sync.Once

	processed, failed, retries atomic.Uint64
}

type didQueue struct {
	did    string
	events []*Event
}

// NewLanes returns lanes that run handler for each submitted event. Invalid
// sizes are raised to 1.
func NewLanes(cfg LanesConfig, logger *slog.Logger, handler func(ctx context.Context, ev *Event) error) *Lanes {
	cfg.Workers = max(cfg.Workers, 1)
	cfg.Capacity = max(cfg.Capacity, 1)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Lanes{
		cfg:       cfg,
		handler:   handler,
		logger:    logger,
		slots:     make(chan struct{}, cfg.Capacity),
		ready:     make(chan *didQueue, cfg.Capacity),
		queues:    make(map[string]*didQueue),
		runCtx:    ctx,
		cancelRun: cancel,
		stop:      make(chan struct{}),
		drained:   make(chan struct{}),
	}
}

// Start launches the workers.
func (l *Lanes) Start() {
	l.startOnce.Do(func() {
		for range l.cfg.Workers {
			l.wg.Add(1)
			go l.work()
		}
	})
}

// Submit queues ev behind the earlier events of its DID. It blocks while
// the lanes are full and returns ctx.Err() if ctx ends first, or ErrClosed
// after Shutdown began.
func (l *Lanes) Submit(ctx context.Context, ev *Event) error {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.stop:
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		<-l.slots
		return ErrClosed
	}
	did := string(ev.DID)
	q := l.queues[did]
	if q == nil {
		q = &didQueue{did: did}
		l.queues[did] = q
		q.events = append(q.events, ev)
		l.ready <- q // never blocks: at most one entry per queued event
		return nil
	}
	q.events = append(q.events, ev)
	return nil
}

// work runs DIDs from the ready line until Shutdown drained the lanes.
func (l *Lanes) work() {
	defer l.wg.Done()
	for {
		select {
		case q := <-l.ready:
			l.runOne(q)
		case <-l.drained:
			return
		}
	}
}

// runOne processes the head event of q, then puts q back in line or drops
// it when empty. A DID is in the ready line or running, never both, so its
// events never run concurrently.
func (l *Lanes) runOne(q *didQueue) {
	l.mu.Lock()
	ev := q.events[0]
	q.events[0] = nil
	q.events = q.events[1:]
	l.mu.Unlock()

	err := l.process(ev)
	<-l.slots
	ev.finish(err)

	l.mu.Lock()
	if len(q.events) == 0 {
		delete(l.queues, q.did)
		l.closeIfDrainedLocked()
	} else {
		l.ready <- q
	}
	l.mu.Unlock()
}

// process runs the handler, retrying retryable errors with backoff until it
// succeeds, fails permanently or the lanes are cancelled.
func (l *Lanes) process(ev *Event) error {
	b := l.cfg.Retry
	for {
		if err := l.runCtx.Err(); err != nil {
			l.failed.Add(1)
			return err
		}
		err := l.handler(l.runCtx, ev)
		if err == nil {
			l.processed.Add(1)
			return nil
		}
		if IsPermanent(err) {
			l.failed.Add(1)
			l.logger.Warn("event failed", "did", ev.DID, "kind", ev.Kind, "seq", ev.Seq, "error", err)
			return err
		}
		delay := b.Next()
		if d, ok := RetryDelay(err); ok {
			delay = d
		}
		l.retries.Add(1)
		l.logger.Debug("event retry", "did", ev.DID, "kind", ev.Kind, "delay", delay, "error", err)
		if serr := Sleep(l.runCtx, delay); serr != nil {
			l.failed.Add(1)
			return errors.Join(err, serr)
		}
	}
}

// closeIfDrainedLocked releases the workers once Shutdown began and no
// event is left. l.mu must be held.
func (l *Lanes) closeIfDrainedLocked() {
	if l.closed && len(l.queues) == 0 {
		select {
		case <-l.drained:
		default:
			close(l.drained)
		}
	}
}

// Shutdown stops accepting events and lets the workers finish what is
// queued. If ctx ends first, running handlers are cancelled, the events
// still queued are finished with the context's error, and ctx.Err() is
// returned. It is idempotent and works without Start.
func (l *Lanes) Shutdown(ctx context.Context) error {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.stop)
		l.closeIfDrainedLocked()
		l.mu.Unlock()
	})
	l.Start() // workers drain the queue even if Start was never called
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		l.cancelRun()
		return nil
	case <-ctx.Done():
		l.cancelRun()
		<-done
		return ctx.Err()
	}
}

// Stats returns the current counters.
func (l *Lanes) Stats() LanesStats {
	l.mu.Lock()
	dids := len(l.queues)
	l.mu.Unlock()
	return LanesStats{
		Queued:    len(l.slots),
		DIDs:      dids,
		Processed: l.processed.Load(),
		Failed:    l.failed.Load(),
		Retries:   l.retries.Load(),
	}
}
