package orderstage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapkit/tap/internal/store"
)

// follower feeds the engine of an outbox-only process (outbox.only) with the rows other
// processes commit to the shared database. See "Outbox-only mode" in the package
// documentation for why it reads the way it does.
//
// known holds the id of every row handed to the engine whose delete is not yet known to have
// happened before the current poll's snapshot: such a row is never handed over twice.
type follower struct {
	db       *store.DB
	eng      *engine
	log      *slog.Logger
	interval time.Duration

	known map[int64]struct{} // owned by run

	mu      sync.Mutex
	deleted []int64 // deleted since the last poll began

	polls  atomic.Uint64
	failed bool // the last poll failed (logged once per run of failures)
}

func newFollower(db *store.DB, eng *engine, log *slog.Logger, interval time.Duration) *follower {
	return &follower{db: db, eng: eng, log: log, interval: interval, known: make(map[int64]struct{})}
}

// onDeleted is the deleter's callback: those rows are gone from now on.
func (f *follower) onDeleted(ids []int64) {
	f.mu.Lock()
	f.deleted = append(f.deleted, ids...)
	f.mu.Unlock()
}

// run polls every interval until ctx ends.
func (f *follower) run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		err := f.poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !f.failed:
			f.failed = true
			f.log.Warn("following the outbox failed; retrying", "every", f.interval, "error", err)
		case err == nil && f.failed:
			f.failed = false
			f.log.Info("following the outbox again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll hands the engine the lowest-id rows it has not seen yet, as many as it has room for,
// all taken from one snapshot of the id list.
func (f *follower) poll(ctx context.Context) error {
	defer f.polls.Add(1)
	// Rows deleted before this poll's snapshot cannot be in it: forget them. Deletes that
	// complete later stay known until the next poll, since the snapshot may still show them.
	f.prune()
	// When the engine is (nearly) full, wait for a worthwhile amount of room: each poll reads
	// up to known+room ids, so polling for a few slots at a time would reread the known ones.
	room := f.eng.free()
	if room == 0 || room < max(1, min(loadPage, int(f.eng.capacity)/10)) {
		return nil
	}
	ids, err := f.db.ListOutboxIDs(ctx, len(f.known)+room)
	if err != nil {
		return err
	}
	var unseen []int64
	for _, id := range ids {
		if _, ok := f.known[id]; !ok {
			unseen = append(unseen, id)
			if len(unseen) == room {
				break
			}
		}
	}
	if len(unseen) == 0 {
		return nil
	}
	rows, err := f.db.GetOutbox(ctx, unseen)
	if err != nil {
		return err
	}
	for _, r := range rows {
		f.known[r.ID] = struct{}{}
	}
	ds := deliveries(rows, 0)
	f.eng.loaded.Add(uint64(len(ds)))
	f.eng.add(ds)
	return nil
}

// prune forgets the rows deleted since the last poll.
func (f *follower) prune() {
	f.mu.Lock()
	deleted := f.deleted
	f.deleted = nil
	f.mu.Unlock()
	for _, id := range deleted {
		delete(f.known, id)
	}
}
