package orderstage

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tapkit/tap/internal/eventjson"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// bodyBufs are reusable buffers for rendering event bodies on the lanes.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuf is the largest buffer put back in bodyBufs.
const maxPooledBuf = 1 << 20

// accountStatuses are the statuses an identity event may carry.
var accountStatuses = map[string]store.AccountStatus{
	"active":      store.AccountStatusActive,
	"takendown":   store.AccountStatusTakendown,
	"suspended":   store.AccountStatusSuspended,
	"deactivated": store.AccountStatusDeactivated,
	"deleted":     store.AccountStatusDeleted,
}

// prepareRecords turns a Records event into its writes, rendering every op's event JSON body
// here, on the event's lane, so that the expensive part runs in parallel. It returns nil when
// there is nothing to write.
func (s *Stage) prepareRecords(ev *pipeline.Event) (*job, error) {
	r := ev.Records
	if r == nil || ev.DID == "" {
		return nil, pipeline.Permanent(errors.New("order: records event without records or DID"))
	}
	if len(r.Ops) == 0 && !r.Final {
		return nil, nil
	}
	j := &job{write: store.EventWrite{DID: string(ev.DID)}, done: make(chan error, 1)}
	if r.Final {
		j.write.Rev = &store.RepoRev{Rev: r.Rev, PrevData: r.DataCID}
	}
	bufp := bodyBufs.Get().(*[]byte)
	defer putBuf(bufp)
	for _, op := range r.Ops {
		if op.Action != pipeline.ActionCreate && op.Action != pipeline.ActionUpdate && op.Action != pipeline.ActionDelete {
			return nil, pipeline.Permanent(fmt.Errorf("order: %s: unknown action %q", ev.DID, op.Action))
		}
		j.write.Records = append(j.write.Records, store.RecordChange{
			Collection: string(op.Collection), RKey: string(op.RKey), CID: op.CID,
			Delete: op.Action == pipeline.ActionDelete,
		})
		body, err := eventjson.AppendRecordBody((*bufp)[:0], eventjson.Record{
			Live: ev.Live, DID: string(ev.DID), Rev: r.Rev, Collection: string(op.Collection),
			RKey: string(op.RKey), Action: string(op.Action), CID: op.CID, CBOR: op.Record,
		})
		*bufp = body
		if err != nil {
			j.skipped = append(j.skipped, skippedOp{path: string(op.Collection) + "/" + string(op.RKey), cid: op.CID, err: err})
			continue
		}
		j.write.Outbox = append(j.write.Outbox, store.OutboxEvent{Live: ev.Live, Data: eventData(string(body))})
	}
	j.rows = rowsOf(j.write)
	return j, nil
}

// prepareIdentity turns an IdentityChange event into its writes.
func (s *Stage) prepareIdentity(ev *pipeline.Event) (*job, error) {
	c := ev.Change
	if c == nil || ev.DID == "" {
		return nil, pipeline.Permanent(errors.New("order: identity change event without change or DID"))
	}
	status, ok := accountStatuses[c.Status]
	if !ok {
		return nil, pipeline.Permanent(fmt.Errorf("order: %s: unknown account status %q", ev.DID, c.Status))
	}
	bufp := bodyBufs.Get().(*[]byte)
	defer putBuf(bufp)
	*bufp = eventjson.AppendIdentityBody((*bufp)[:0], eventjson.Identity{
		DID: string(ev.DID), Handle: string(c.Handle), IsActive: c.IsActive, Status: c.Status,
	})
	j := &job{write: store.EventWrite{
		DID:      string(ev.DID),
		Outbox:   []store.OutboxEvent{{Live: true, Data: eventData(string(*bufp))}},
		Identity: &store.IdentityUpdate{Handle: string(c.Handle), Status: status},
	}, done: make(chan error, 1)}
	j.rows = rowsOf(j.write)
	return j, nil
}

// eventData returns the function that completes body with the event's id.
func eventData(body string) func(id int64) string {
	return func(id int64) string {
		var prefix [32]byte
		p := eventjson.AppendEvent(prefix[:0], id, nil)
		var b strings.Builder
		b.Grow(len(p) + len(body))
		b.Write(p)
		b.WriteString(body)
		return b.String()
	}
}

// rowsOf estimates the row writes of w, for the batch bound.
func rowsOf(w store.EventWrite) int {
	n := len(w.Records) + len(w.Outbox)
	if w.Rev != nil {
		n++
	}
	if w.Identity != nil {
		n++
	}
	return max(n, 1)
}

// putBuf returns a buffer to bodyBufs unless it grew too large.
func putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		bodyBufs.Put(b)
	}
}
