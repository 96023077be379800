package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/tapkit/tap/plugins/sdk"
)

// applier applies the events of one batch inside its transaction.
type applier struct {
	tx    *sql.Tx
	d     dialect
	prog  map[string]progress // DID → its progress, as of this batch
	dirty map[string]bool     // DIDs whose progress moved in this batch
}

// progress is a row of mirror_progress.
type progress struct {
	last uint64 // the highest id applied
	live uint64 // the highest id of a live event applied
}

func (a *applier) exec(ctx context.Context, q string, args ...any) error {
	_, err := a.tx.ExecContext(ctx, rebind(a.d, q), args...)
	return err
}

// progress returns the DID's progress (zero if none).
func (a *applier) progress(ctx context.Context, did string) (progress, error) {
	if p, ok := a.prog[did]; ok {
		return p, nil
	}
	var last, live int64
	err := a.tx.QueryRowContext(ctx, rebind(a.d, qProgress), did).Scan(&last, &live)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return progress{}, fmt.Errorf("reading the progress of %s: %w", did, err)
	}
	p := progress{last: uint64(last), live: uint64(live)}
	a.prog[did] = p
	return p, nil
}

// event applies ev unless it was applied already. A non-nil error aborts
// the batch; a Failed result only skips the event.
//
// tap releases a live event of a DID only once every earlier event of the
// DID is acked, and nothing later until it is acked; historical events of
// a DID may be in flight together, so one may be redelivered after a later
// one was applied. Hence an event is a duplicate when its id is not above
// the DID's last applied live event; a historical event above it is applied
// again, which upserts and deletes make harmless.
func (a *applier) event(ctx context.Context, ev sdk.Event) (sdk.Result, error) {
	if ev.DID == "" {
		return sdk.Fail("event without a DID"), nil
	}
	if ev.ID > math.MaxInt64 {
		return sdk.Fail("event id out of range"), nil
	}
	p, err := a.progress(ctx, ev.DID)
	if err != nil {
		return sdk.Result{}, err
	}
	if ev.ID <= p.live || (ev.Live && ev.ID <= p.last) {
		return sdk.Ack(), nil // applied already: a redelivery
	}
	var r sdk.Result
	switch ev.Type {
	case sdk.TypeRecord:
		r, err = a.record(ctx, ev)
	case sdk.TypeIdentity:
		r = sdk.Ack()
		if ev.Status == "deleted" {
			err = a.exec(ctx, qDeleteDID, ev.DID)
		}
	default:
		r = sdk.Fail(fmt.Sprintf("unknown event type %q", ev.Type))
	}
	if err != nil {
		return sdk.Result{}, err
	}
	if r.Status == sdk.Acked {
		p.last = max(p.last, ev.ID)
		if ev.Live {
			p.live = max(p.live, ev.ID)
		}
		a.prog[ev.DID] = p
		a.dirty[ev.DID] = true
	}
	return r, nil
}

// record applies a record event.
func (a *applier) record(ctx context.Context, ev sdk.Event) (sdk.Result, error) {
	if ev.Collection == "" || ev.RKey == "" {
		return sdk.Fail("record event without a collection or rkey"), nil
	}
	switch ev.Action {
	case "create", "update":
		var rec any // NULL when absent
		if len(ev.Record) > 0 {
			rec = string(ev.Record)
		}
		return sdk.Ack(), a.exec(ctx, qUpsert, ev.DID, ev.Collection, ev.RKey, ev.CID, rec, ev.Rev)
	case "delete":
		return sdk.Ack(), a.exec(ctx, qDelete, ev.DID, ev.Collection, ev.RKey)
	default:
		return sdk.Fail(fmt.Sprintf("unknown action %q", ev.Action)), nil
	}
}

// saveProgress writes the last applied id of every DID the batch moved.
func (a *applier) saveProgress(ctx context.Context) error {
	for did := range a.dirty {
		p := a.prog[did]
		if err := a.exec(ctx, qSetProgress, did, int64(p.last), int64(p.live)); err != nil {
			return fmt.Errorf("saving the progress of %s: %w", did, err)
		}
	}
	return nil
}
