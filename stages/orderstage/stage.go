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

// WithRelease sets the hook that receives committed events (nothing by default). It is the
// seam where delivery under the per-DID ordering rules attaches.
func WithRelease(fn ReleaseFunc) Option {
	return func(s *Stage) { s.release = fn }
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

// New returns an order stage committing to db. Zero fields of cfg take their defaults.
func New(cfg Config, db *store.DB, logger *slog.Logger, opts ...Option) *Stage {
	def := DefaultConfig()
	cfg.MaxBatchEvents = cmpOr(cfg.MaxBatchEvents, def.MaxBatchEvents)
	cfg.MaxBatchRows = cmpOr(cfg.MaxBatchRows, def.MaxBatchRows)
	cfg.IDBlockSize = cmpOr(cfg.IDBlockSize, def.IDBlockSize)
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

// cmpOr returns v, or def when v is not positive.
func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Start loads the next event id and launches the committer.
func (s *Stage) Start(ctx context.Context, _ pipeline.Host) error {
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
	s.state = stateRunning
	go s.run()
	return nil
}

// Shutdown stops accepting events, commits everything already queued and waits for the
// committer. If ctx ends first, the transaction in progress is cancelled, the events still
// queued fail, and ctx.Err() is returned.
func (s *Stage) Shutdown(ctx context.Context) error {
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
	}
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
