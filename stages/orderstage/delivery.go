package orderstage

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tapkit/tap/pipeline"
)

// DeliveryStats is a snapshot of the delivery engine's state and counters.
type DeliveryStats struct {
	// Enabled is false when the stage delivers nothing (no sinks configured).
	Enabled bool
	// Pending counts events held but not released yet (waiting behind their DID's rules).
	Pending int
	// InFlight counts released events not yet acked by every sink.
	InFlight int
	// Acked counts events acked by every sink.
	Acked uint64
	// Loaded counts events read from the outbox: the startup backlog, or followed rows.
	Loaded uint64
	// Redelivered counts event deliveries repeated after a failed attempt (per sink).
	Redelivered uint64
	// Deleted counts outbox rows deleted after every sink acked them.
	Deleted uint64
	// DeletePending counts acked events whose rows wait for their delete.
	DeletePending int
	// DeleteFailures counts failed delete transactions (retried).
	DeleteFailures uint64
	// OldestPending is the age of the oldest event held (pending or in flight); 0 when none.
	OldestPending time.Duration
	// Sinks has one entry per sink, in configuration order.
	Sinks []SinkStats
}

// SinkStats are one sink's delivery counters.
type SinkStats struct {
	// ID is the sink's configured id.
	ID pipeline.ID
	// Delivered counts events handed to Deliver, retries included.
	Delivered uint64
	// Acked counts events the sink acked.
	Acked uint64
	// Failed counts events whose delivery attempt failed.
	Failed uint64
	// Permanent counts the failures marked pipeline.Permanent (retried all the same).
	Permanent uint64
	// Retried counts events handed to Deliver again after a failed attempt.
	Retried uint64
	// Queued counts released events waiting for one of the sink's workers.
	Queued int
	// LastError is the most recent delivery error, and LastErrorAt when it happened.
	LastError   string
	LastErrorAt time.Time
}

// delivery is the running release half of the stage: the engine, one dispatcher per sink,
// the deleter, and the loader or the follower.
type delivery struct {
	eng  *engine
	disp []*dispatcher
	del  *deleter
	fol  *follower

	bgCtx    context.Context // loader, follower and deleter
	bgCancel context.CancelFunc
	dCtx     context.Context // Deliver calls
	dCancel  context.CancelFunc
	stop     chan struct{} // closed at shutdown: no new batch, no retry
	bg       sync.WaitGroup
	workers  sync.WaitGroup
	once     sync.Once
}

// startDelivery builds and starts the release half for sinks. In outbox-only mode a follower
// feeds the engine; otherwise a loader puts the outbox backlog (ids below before) in first.
func (s *Stage) startDelivery(sinks []pipeline.NamedSink, before int64) *delivery {
	c := s.cfg
	del := newDeleter(s.db, s.log, c.DeleteBatch, c.DeleteInterval)
	eng := newEngine(c.Capacity, del.add)
	eng.hook = s.releaseHook
	eng.latency = s.latency
	dl := &delivery{eng: eng, del: del, stop: make(chan struct{})}
	dl.bgCtx, dl.bgCancel = context.WithCancel(context.Background())
	dl.dCtx, dl.dCancel = context.WithCancel(context.Background())
	for _, ns := range sinks {
		dl.disp = append(dl.disp, &dispatcher{
			id: ns.ID, sink: ns.Sink, eng: eng, log: s.log, batch: c.SinkBatch, workers: c.MaxInFlightBatches,
			retryMin: c.RetryMin, retryMax: c.RetryMax, wake: make(chan struct{}, 1),
		})
	}
	eng.sinks = dl.disp
	for _, d := range dl.disp {
		d.run(dl.dCtx, dl.stop, &dl.workers)
	}
	if s.outboxOnly {
		dl.fol = newFollower(s.db, eng, s.log, c.FollowInterval)
		del.onDeleted = dl.fol.onDeleted
		eng.setLoaded() // nothing commits into this engine
		dl.bg.Go(func() { dl.fol.run(dl.bgCtx) })
	} else {
		ld := &loader{db: s.db, eng: eng, log: s.log, before: before,
			retry: pipeline.Backoff{Base: c.RetryMin, Max: c.RetryMax}}
		dl.bg.Go(func() { ld.run(dl.bgCtx) })
	}
	dl.bg.Go(func() { del.run(dl.bgCtx) })
	s.log.Info("delivering the outbox", "sinks", len(sinks), "capacity", c.Capacity,
		"in_flight_batches_per_sink", c.MaxInFlightBatches, "sink_batch", c.SinkBatch, "outbox_only", s.outboxOnly)
	return dl
}

// shutdownGrace is how long Shutdown lets the Deliver calls in progress finish before it
// cancels them.
const shutdownGrace = time.Second

// shutdown stops releasing, lets the Deliver calls in progress finish for up to shutdownGrace
// or until ctx ends (then cancels them), and flushes the pending deletes. Unacked events stay
// in the outbox. It is idempotent; only the first call reports an error (ctx's, when it ended
// first).
func (dl *delivery) shutdown(ctx context.Context, log *slog.Logger) error {
	var err error
	dl.once.Do(func() {
		dl.eng.closeGate()
		dl.bgCancel()
		dl.bg.Wait()
		dl.eng.stop()
		close(dl.stop)
		workersDone := make(chan struct{})
		go func() { dl.workers.Wait(); close(workersDone) }()
		// Deliveries in flight get a short grace to complete (acks that
		// are on their way), then are cancelled: an unacked event simply
		// stays in the outbox for the next run. Waiting for the whole
		// deadline would hold shutdown hostage to a consumer that is gone.
		grace := time.NewTimer(shutdownGrace)
		defer grace.Stop()
		select {
		case <-workersDone:
		case <-grace.C:
			dl.dCancel()
			<-workersDone
		case <-ctx.Done():
			err = ctx.Err()
			dl.dCancel()
			<-workersDone
		}
		dl.dCancel()
		if ferr := dl.del.flush(ctx); ferr != nil {
			log.Warn("acked events left in the outbox; they will be delivered again after a restart",
				"events", dl.del.pending(), "error", ferr)
		}
	})
	return err
}

// stats returns the engine's state and counters.
func (dl *delivery) stats() DeliveryStats {
	st := DeliveryStats{
		Enabled: true, Acked: dl.eng.acked.Load(), Loaded: dl.eng.loaded.Load(),
		Redelivered: dl.eng.redelivered.Load(), Deleted: dl.del.deleted.Load(),
		DeletePending: dl.del.pending(), DeleteFailures: dl.del.failures.Load(),
	}
	inflight := int(dl.eng.inflight.Load())
	st.InFlight = inflight
	st.Pending = max(int(dl.eng.held.Load())-inflight, 0)
	if t := dl.eng.oldest(); !t.IsZero() {
		st.OldestPending = time.Since(t)
	}
	for _, d := range dl.disp {
		st.Sinks = append(st.Sinks, d.stats())
	}
	return st
}
