package orderstage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapkit/tap/internal/store"
)

// deleter removes the outbox rows of events every sink acked, in batches: when batch ids are
// collected or every interval. A failed delete is logged and retried (after interval); if it
// never succeeds, the rows are redelivered after a restart (at-least-once).
type deleter struct {
	db       *store.DB
	log      *slog.Logger
	batch    int
	interval time.Duration
	// onDeleted, when set, receives the ids of each successful delete.
	onDeleted func(ids []int64)

	mu   sync.Mutex
	ids  []int64
	kick chan struct{}

	deleted, failures atomic.Uint64
}

func newDeleter(db *store.DB, log *slog.Logger, batch int, interval time.Duration) *deleter {
	return &deleter{db: db, log: log, batch: batch, interval: interval, kick: make(chan struct{}, 1)}
}

// add queues ids for deletion; it never blocks.
func (d *deleter) add(ids []int64) {
	d.mu.Lock()
	d.ids = append(d.ids, ids...)
	n := len(d.ids)
	d.mu.Unlock()
	if n >= d.batch {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

// pending returns how many ids wait for their delete.
func (d *deleter) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.ids)
}

// run deletes until ctx ends; the final flush is the caller's (with its own deadline).
func (d *deleter) run(ctx context.Context) {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-t.C:
		}
		if err := d.flush(ctx); err != nil && ctx.Err() == nil {
			// Do not hammer a failing database at the ack rate.
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// flush deletes every queued id; on failure they are queued again.
func (d *deleter) flush(ctx context.Context) error {
	d.mu.Lock()
	ids := d.ids
	d.ids = nil
	d.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if _, err := d.db.DeleteOutbox(ctx, ids); err != nil {
		d.mu.Lock()
		d.ids = append(ids, d.ids...)
		d.mu.Unlock()
		d.failures.Add(1)
		if ctx.Err() == nil {
			d.log.Warn("deleting acked outbox rows failed; retrying", "events", len(ids), "error", err)
		}
		return err
	}
	d.deleted.Add(uint64(len(ids)))
	if d.onDeleted != nil {
		d.onDeleted(ids)
	}
	return nil
}
