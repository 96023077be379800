package verifystage

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"

	"github.com/tapkit/tap/internal/atproto/carstream"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// indexPage is how many record index rows are read at a time while a
// snapshot is merged with the index.
const indexPage = 2000

// snapshot verifies a fetched repo and emits its difference from the
// record index: creates, updates and deletes, in MST key order, in batches.
func (s *Stage) snapshot(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	r, ok, err := s.repo(ctx, ev.DID)
	if err != nil || !ok {
		return err // a repo removed mid-resync is not an error
	}
	if err := s.handleChanged(ctx, ev, r, ev.Snapshot.Handle, next); err != nil {
		return err
	}
	snap, err := carstream.Open(ctx, ev.Snapshot.CAR, carstream.Options{Dir: s.cfg.SpillDir, MaxBytes: s.cfg.MaxCARBytes})
	if err != nil {
		return s.snapshotFailed(ctx, fmt.Errorf("repo CAR from %s: %w", ev.Snapshot.Source, carLimit(err)))
	}
	defer snap.Close()
	commit := snap.Commit()
	if commit.DID != ev.DID.String() {
		return s.snapshotFailed(ctx, fmt.Errorf("repo CAR from %s: commit names %s, not %s", ev.Snapshot.Source, commit.DID, ev.DID))
	}
	if err := s.verifySigned(ctx, ev.DID, snap.VerifySignature); err != nil {
		return s.snapshotFailed(ctx, fmt.Errorf("repo CAR from %s: %w", ev.Snapshot.Source, err))
	}
	if r.Rev != "" && commit.Rev < r.Rev {
		return s.snapshotFailed(ctx, fmt.Errorf("repo CAR from %s: rev %s is older than the stored rev %s", ev.Snapshot.Source, commit.Rev, r.Rev))
	}
	d := &differ{s: s, ev: ev, next: next, rev: commit.Rev, data: cidString(commit.Data)}
	err = snap.WalkRecords(ctx, func(path string, c cid.Cid, data []byte) error { return d.visit(ctx, path, c, data) })
	if err != nil {
		return s.snapshotFailed(ctx, fmt.Errorf("repo CAR from %s: %w", ev.Snapshot.Source, err))
	}
	if err := d.finish(ctx); err != nil {
		return err
	}
	s.Stats.Snapshots.Add(1)
	return nil
}

// snapshotFailed counts err as a FailureSnapshot unless ctx ended (a
// shutdown is no verification failure), and returns it.
func (s *Stage) snapshotFailed(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		s.Stats.fail(FailureSnapshot)
	}
	return err
}

// maxCARError is a snapshot CAR past max_car_bytes, reported in the
// setting's name; it wraps the carstream error (carstream.ErrTooLarge).
type maxCARError struct{ err *carstream.LimitError }

func (e maxCARError) Error() string {
	return fmt.Sprintf("CAR exceeds max_car_bytes (%d bytes)", e.err.Limit)
}

func (e maxCARError) Unwrap() error { return e.err }

// carLimit names max_car_bytes in the error of a CAR that exceeded it (the
// stream limit the stage sets); other errors pass unchanged.
func carLimit(err error) error {
	var le *carstream.LimitError
	if errors.As(err, &le) && le.Option == "MaxBytes" {
		return maxCARError{le}
	}
	return err
}

// differ merges an MST walk with the record index of the same repo, both in
// key order, and emits the difference. The index is read a page at a time,
// each page fetched before any key past the previous page was written, so
// the rows this snapshot writes are never read back as original ones.
type differ struct {
	s     *Stage
	ev    *pipeline.Event
	next  pipeline.Next
	rev   string
	data  string
	idx   []store.IndexEntry
	pos   int
	after string
	done  bool
	batch []pipeline.RecordOp
}

// peek returns the next index entry not yet merged.
func (d *differ) peek(ctx context.Context) (store.IndexEntry, bool, error) {
	if d.pos < len(d.idx) {
		return d.idx[d.pos], true, nil
	}
	if d.done {
		return store.IndexEntry{}, false, nil
	}
	page, err := d.s.db.RecordIndexPage(ctx, d.ev.DID.String(), d.after, indexPage)
	if err != nil {
		return store.IndexEntry{}, false, err
	}
	d.idx, d.pos, d.done = page, 0, len(page) < indexPage
	if len(page) == 0 {
		return store.IndexEntry{}, false, nil
	}
	d.after = page[len(page)-1].Path
	return page[0], true, nil
}

// visit merges one MST entry; data (the record) is only valid during the
// call.
func (d *differ) visit(ctx context.Context, path string, c cid.Cid, data []byte) error {
	d.s.Stats.SnapshotRecords.Add(1)
	for {
		e, ok, err := d.peek(ctx)
		if err != nil {
			return err
		}
		switch {
		case ok && e.Path < path:
			d.pos++
			if err := d.add(ctx, pipeline.ActionDelete, e.Path, cid.Undef, nil); err != nil {
				return err
			}
			continue
		case ok && e.Path == path:
			d.pos++
			if e.CID == cidString(c) {
				return nil
			}
			return d.add(ctx, pipeline.ActionUpdate, path, c, data)
		}
		return d.add(ctx, pipeline.ActionCreate, path, c, data)
	}
}

// finish deletes what is left of the index and flushes the last batch.
func (d *differ) finish(ctx context.Context) error {
	for {
		e, ok, err := d.peek(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return d.flush(ctx, true)
		}
		d.pos++
		if err := d.add(ctx, pipeline.ActionDelete, e.Path, cid.Undef, nil); err != nil {
			return err
		}
	}
}

// add appends one op to the batch (copying the record), flushing it when
// full.
func (d *differ) add(ctx context.Context, action pipeline.Action, path string, c cid.Cid, data []byte) error {
	coll, rkey, err := syntax.ParseRepoPath(path)
	if err != nil {
		if action == pipeline.ActionDelete {
			return nil // an index row tap could never have written
		}
		return fmt.Errorf("MST key %q: %w", path, err)
	}
	op := pipeline.RecordOp{Action: action, Collection: coll, RKey: rkey}
	if action != pipeline.ActionDelete {
		op.CID, op.Record = cidString(c), bytes.Clone(data)
	}
	d.batch = append(d.batch, op)
	if len(d.batch) >= d.s.cfg.SnapshotBatch {
		return d.flush(ctx, false)
	}
	return nil
}

// flush emits the batch as one Records event.
func (d *differ) flush(ctx context.Context, final bool) error {
	ev := &pipeline.Event{
		Kind: pipeline.KindRecords, DID: d.ev.DID, Live: false, Received: d.ev.Received,
		Records: &pipeline.Records{Rev: d.rev, DataCID: d.data, Ops: d.batch, Final: final},
	}
	d.batch = make([]pipeline.RecordOp, 0, d.s.cfg.SnapshotBatch)
	return d.next(ctx, ev)
}
