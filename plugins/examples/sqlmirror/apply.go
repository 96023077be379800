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
	last  map[string]uint64 // DID → id of the last event applied
	dirty map[string]bool   // DIDs whose progress moved in this batch
}

func (a *applier) exec(ctx context.Context, q string, args ...any) error {
	_, err := a.tx.ExecContext(ctx, rebind(a.d, q), args...)
	return err
}

// lastID returns the id of the DID's last applied event (0 if none).
func (a *applier) lastID(ctx context.Context, did string) (uint64, error) {
	if id, ok := a.last[did]; ok {
		return id, nil
	}
	var id int64
	err := a.tx.QueryRowContext(ctx, rebind(a.d, qLastID), did).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err, id = nil, 0
	}
	if err != nil {
		return 0, fmt.Errorf("reading the progress of %s: %w", did, err)
	}
	a.last[did] = uint64(id)
	return uint64(id), nil
}

// event applies ev unless it was applied already. A non-nil error aborts
// the batch; a Failed result only skips the event.
func (a *applier) event(ctx context.Context, ev sdk.Event) (sdk.Result, error) {
	if ev.DID == "" {
		return sdk.Fail("event without a DID"), nil
	}
	if ev.ID > math.MaxInt64 {
		return sdk.Fail("event id out of range"), nil
	}
	last, err := a.lastID(ctx, ev.DID)
	if err != nil {
		return sdk.Result{}, err
	}
	if ev.ID <= last {
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
		a.last[ev.DID] = ev.ID
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
		if err := a.exec(ctx, qSetProgress, did, int64(a.last[did])); err != nil {
			return fmt.Errorf("saving the progress of %s: %w", did, err)
		}
	}
	return nil
}
