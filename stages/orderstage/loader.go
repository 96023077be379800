package orderstage

import (
	"context"
	"log/slog"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// loadPage is the most outbox rows read at a time.
const loadPage = 1000

// loader puts the events left in the outbox at startup (unacked before a restart or a crash,
// or written by the reference Tap) into the engine, in id order, in pages that respect the
// capacity. Every such row has an id below before, the first id this process can commit; the
// commit path waits until the loader is done (engine.waitRoom), so a DID's new events always
// come after its old ones.
type loader struct {
	db     *store.DB
	eng    *engine
	log    *slog.Logger
	before int64
	retry  pipeline.Backoff
}

// run loads the backlog, then opens the commit gate. It returns early only when ctx ends.
func (l *loader) run(ctx context.Context) {
	var after, total int64
	page := min(loadPage, int(l.eng.capacity))
	for {
		if err := l.eng.waitRoom(ctx, false); err != nil {
			return
		}
		rows, err := l.db.ListOutbox(ctx, after, page)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d := l.retry.Next()
			l.log.Warn("loading the outbox failed; retrying", "after_id", after, "retry_in", d, "error", err)
			if pipeline.Sleep(ctx, d) != nil {
				return
			}
			continue
		}
		l.retry.Reset()
		ds := deliveries(rows, l.before)
		l.eng.loaded.Add(uint64(len(ds)))
		l.eng.add(ds)
		total += int64(len(ds))
		if len(rows) < page || len(ds) < len(rows) {
			break
		}
		after = rows[len(rows)-1].ID
	}
	l.log.Info("outbox backlog loaded", "events", total)
	l.eng.setLoaded()
}

// deliveries turns outbox rows with ids below before (all when before <= 0) into deliveries.
func deliveries(rows []store.OutboxBuffer, before int64) []pipeline.Delivery {
	ds := make([]pipeline.Delivery, 0, len(rows))
	for _, r := range rows {
		if before > 0 && r.ID >= before {
			break
		}
		ds = append(ds, pipeline.Delivery{ID: uint64(r.ID), DID: r.DID, Live: r.Live, JSON: []byte(r.Data)})
	}
	return ds
}
