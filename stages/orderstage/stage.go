package orderstage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// ReleaseFunc receives the events of each committed transaction, in id order. It runs on the
// committer goroutine before the events' Process calls return, so it must not block for long.
type ReleaseFunc func(committed []pipeline.Delivery)

// Option configures New.
type Option func(*Stage)

// WithRelease sets a hook that also receives committed events (nothing by default), besides
// the delivery engine.
func WithRelease(fn ReleaseFunc) Option {
	return func(s *Stage) { s.release = fn }
}

// WithOutboxOnly makes the stage an outbox follower when only is true (outbox.only): it
// delivers the rows other processes commit to the same database instead of its own commits.
func WithOutboxOnly(only bool) Option {
	return func(s *Stage) { s.outboxOnly = only }
}

// Stats is a snapshot of the stage's counters.
type Stats struct {
	// Events counts events committed with something written.
	Events uint64
	// Untracked counts events dropped because their repo was not tracked at commit time.
	Untracked uint64
	// Transactions counts committed transactions.
	Transactions uint64
	// FailedTransactions counts transactions that failed (their events were retried).
	FailedTransactions uint64
	// Rows counts committed row writes (record index, outbox and repo rows).
	Rows uint64
	// Outbox counts committed outbox events.
	Outbox uint64
	// Unrenderable counts committed record ops that were applied to the record index without
	// an event, because their record cannot be rendered faithfully.
	Unrenderable uint64
	// Delivery is the state of the delivery engine.
	Delivery DeliveryStats
}

// lifecycle states of a Stage.
const (
	stateCreated = iota
	stateRunning
	stateStopped
)

// Stage is the order stage: it commits Records and IdentityChange events, with their event JSON
// and durable ids, through one group-committing goroutine. See the package documentation.
type Stage struct {
	cfg     Config
	db      *store.DB
	log     *slog.Logger
	release ReleaseFunc
	// outboxOnly makes the stage follow the outbox instead of delivering its own commits.
	outboxOnly bool
	// releaseHook sees every release of the engine, in order (tests).
	releaseHook func(pipeline.Delivery)
	// latency, when set, sees the delivery latency of every acked event.
	latency LatencyObserver
	// dl is the release half, set by Start when there are sinks.
	dl atomic.Pointer[delivery]

	queue chan *job

	mu          sync.Mutex
	state       int
	senders     int           // Process calls between the state check and their send
	sendersIdle chan struct{} // closed once stopped with no sender left

	ids       *store.OutboxIDs // owned by the committer goroutine
	runCtx    context.Context
	cancelRun context.CancelFunc
	abort     chan struct{} // closed when Shutdown stops waiting for queued work
	done      chan struct{} // closed when the committer has exited (or never started)
	stopOnce  sync.Once
	abortOnce sync.Once

	events, untracked, txs, failedTxs, rows, outbox, unrenderable atomic.Uint64
}

// New returns an order stage committing to db and delivering to the sinks of the host it is
// started with. Zero fields of cfg take their defaults.
func New(cfg Config, db *store.DB, logger *slog.Logger, opts ...Option) *Stage {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stage{
		cfg:         cfg,
		db:          db,
		log:         logger,
		queue:       make(chan *job, cfg.MaxBatchEvents),
		sendersIdle: make(chan struct{}),
		runCtx:      ctx,
		cancelRun:   cancel,
		abort:       make(chan struct{}),
		done:        make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Start loads the next event id, starts delivering to host's sinks (loading the outbox backlog
// first, or following the outbox in outbox-only mode) and launches the committer. Without
// sinks nothing is delivered: committed events stay in the outbox for another process.
func (s *Stage) Start(ctx context.Context, host pipeline.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return errors.New("order stage: already started")
	case stateStopped:
		return fmt.Errorf("order stage: %w", pipeline.ErrClosed)
	}
	ids, err := s.db.NewOutboxIDs(ctx, s.cfg.IDBlockSize)
	if err != nil {
		return fmt.Errorf("order stage: %w", err)
	}
	s.ids = ids
	var sinks []pipeline.NamedSink
	if host != nil {
		sinks = host.Sinks()
	}
	if len(sinks) > 0 {
		s.dl.Store(s.startDelivery(sinks, ids.Next()))
	} else {
		s.log.Info("no sinks configured: committed events stay in the outbox for another process to deliver")
	}
	s.state = stateRunning
	go s.run()
	return nil
}

// Shutdown stops accepting events, commits everything already queued and waits for the
// committer; then it stops releasing, gives the Deliver calls in progress up to a second to
// finish (then cancels them) and flushes the pending deletes (unacked events stay in the
// outbox). If ctx ends first, the transaction in progress is cancelled, the events still
// queued fail, the Deliver calls in progress are cancelled, and ctx.Err() is returned.
func (s *Stage) Shutdown(ctx context.Context) error {
	dl := s.dl.Load()
	if dl != nil {
		dl.eng.closeGate() // commits waiting for room fail now
	}
	err := s.stopCommitter(ctx)
	if dl != nil {
		if derr := dl.shutdown(ctx, s.log); err == nil {
			err = derr
		}
	}
	return err
}

// stopCommitter stops the commit half; see Shutdown.
func (s *Stage) stopCommitter(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		started := s.state == stateRunning
		s.state = stateStopped
		if s.senders == 0 {
			close(s.sendersIdle)
		}
		s.mu.Unlock()
		if !started {
			s.cancelRun()
			close(s.done)
			return
		}
		go func() {
			<-s.sendersIdle
			close(s.queue) // the committer drains what is queued, then exits
		}()
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.abortOnce.Do(func() {
			close(s.abort)
			s.cancelRun()
		})
		<-s.done
		return ctx.Err()
	}
}

// Stats returns the current counters.
func (s *Stage) Stats() Stats {
	return Stats{
		Events:             s.events.Load(),
		Untracked:          s.untracked.Load(),
		Transactions:       s.txs.Load(),
		FailedTransactions: s.failedTxs.Load(),
		Rows:               s.rows.Load(),
		Outbox:             s.outbox.Load(),
		Unrenderable:       s.unrenderable.Load(),
		Delivery:           s.deliveryStats(),
	}
}

// deliveryStats returns the delivery engine's stats (zero when it is not running).
func (s *Stage) deliveryStats() DeliveryStats {
	if dl := s.dl.Load(); dl != nil {
		return dl.stats()
	}
	return DeliveryStats{}
}

// Process commits Records and IdentityChange events and passes every other event to next.
func (s *Stage) Process(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	var (
		j   *job
		err error
	)
	switch ev.Kind {
	case pipeline.KindRecords:
		j, err = s.prepareRecords(ev)
	case pipeline.KindIdentityChange:
		j, err = s.prepareIdentity(ev)
	default:
		return next(ctx, ev)
	}
	if err != nil || j == nil {
		return err
	}
	if err := s.waitRoom(ctx, j); err != nil {
		return err
	}
	if err := s.enqueue(ctx, j); err != nil {
		return err
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitRoom blocks while the delivery engine is at capacity or still loading the backlog
// (back-pressure: the lane, and so the source, waits). A job without events never waits.
func (s *Stage) waitRoom(ctx context.Context, j *job) error {
	dl := s.dl.Load()
	if dl == nil || s.outboxOnly || len(j.write.Outbox) == 0 {
		return nil
	}
	return dl.eng.waitRoom(ctx, true)
}

// enqueue hands j to the committer, blocking while the queue is full.
func (s *Stage) enqueue(ctx context.Context, j *job) error {
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		return fmt.Errorf("order stage not running: %w", pipeline.ErrClosed)
	}
	s.senders++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.senders--
		if s.state == stateStopped && s.senders == 0 {
			close(s.sendersIdle)
		}
		s.mu.Unlock()
	}()
	select {
	case s.queue <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.abort:
		return fmt.Errorf("order stage shut down: %w", pipeline.ErrClosed)
	}
}
