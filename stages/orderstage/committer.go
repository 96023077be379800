package orderstage

import (
	"runtime"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// job is one event's writes on their way through the committer.
type job struct {
	write store.EventWrite
	rows  int
	// skipped are the ops applied without an event, logged once the event commits.
	skipped []skippedOp
	// done receives the outcome of the event's transaction.
	done chan error
}

// skippedOp describes a record op that could not be rendered.
type skippedOp struct {
	path, cid string
	err       error
}

// run is the committer: it takes everything queued, up to the batch bounds, into one
// transaction, until the queue is closed and drained.
func (s *Stage) run() {
	defer close(s.done)
	defer s.cancelRun()
	var (
		carry *job
		batch []*job
	)
	for {
		first := carry
		carry = nil
		if first == nil {
			j, ok := <-s.queue
			if !ok {
				return
			}
			first = j
		}
		// Let lanes that are ready to enqueue do so before the batch is cut: without this
		// the committer, woken by the first event, would mostly commit batches of one.
		runtime.Gosched()
		batch = append(batch[:0], first)
		rows := first.rows
	fill:
		for len(batch) < s.cfg.MaxBatchEvents {
			select {
			case j, ok := <-s.queue:
				if !ok {
					break fill
				}
				if rows+j.rows > s.cfg.MaxBatchRows {
					carry = j
					break fill
				}
				batch = append(batch, j)
				rows += j.rows
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch)
	}
}

// commit writes batch in one transaction and reports the outcome to every job.
func (s *Stage) commit(batch []*job) {
	writes := make([]store.EventWrite, len(batch))
	for i, j := range batch {
		writes[i] = j.write
	}
	res, err := s.db.CommitBatch(s.runCtx, s.ids, writes)
	if err != nil {
		s.failedTxs.Add(1)
		s.log.Warn("commit failed; the events will be retried", "events", len(batch), "error", err)
		for _, j := range batch {
			j.done <- err
		}
		return
	}
	s.txs.Add(1)
	s.rows.Add(uint64(res.Rows))
	var committed []pipeline.Delivery
	for i, j := range batch {
		out := res.Outcomes[i]
		if out.Untracked {
			s.untracked.Add(1)
			continue
		}
		s.events.Add(1)
		s.outbox.Add(uint64(len(out.Outbox)))
		s.logSkipped(j)
		if s.release != nil || s.delivers() {
			for _, row := range out.Outbox {
				committed = append(committed, pipeline.Delivery{
					ID: uint64(row.ID), DID: row.DID, Live: row.Live, JSON: []byte(row.Data),
				})
			}
		}
	}
	if len(committed) > 0 {
		if s.release != nil {
			s.release(committed)
		}
		if s.delivers() {
			s.dl.Load().eng.add(committed)
		}
	}
	for _, j := range batch {
		j.done <- nil
	}
}

// delivers reports whether the stage's own commits go to the delivery engine (there are sinks,
// and the stage does not follow the outbox instead).
func (s *Stage) delivers() bool { return !s.outboxOnly && s.dl.Load() != nil }

// logSkipped counts and logs the ops of j that were indexed without an event.
func (s *Stage) logSkipped(j *job) {
	for _, op := range j.skipped {
		s.unrenderable.Add(1)
		s.log.Warn("record indexed but not delivered: it cannot be rendered as valid atproto JSON",
			"did", j.write.DID, "path", op.path, "cid", op.cid, "error", op.err)
	}
}
