package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// maxStatementBytes bounds the event JSON carried by one outbox INSERT statement (besides
// batchSize rows), so that a batch of large records never binds a huge statement.
const maxStatementBytes = 4 << 20

// RecordChange is one change to the record index of a repo.
type RecordChange struct {
	// Collection and RKey name the record.
	Collection string
	RKey       string
	// CID is the record's new CID; ignored when Delete is set.
	CID string
	// Delete removes the record from the index instead of upserting it.
	Delete bool
}

// RepoRev is a repo's new sync position, recorded once a commit or snapshot is complete.
type RepoRev struct {
	// Rev is stored in repos.rev.
	Rev string
	// PrevData is the MST root of that revision, stored in repos.prev_data.
	PrevData string
}

// IdentityUpdate is a handle or account-status change of a repo.
type IdentityUpdate struct {
	// Handle is the new handle; "" keeps the stored one.
	Handle string
	// Status is the new account status. AccountStatusDeleted deletes the repo row, its record
	// index and its resync buffer instead (events already in the outbox stay).
	Status AccountStatus
}

// OutboxEvent is an event to add to the outbox.
type OutboxEvent struct {
	// Live is stored in outbox_buffers.live (the delivery ordering rules depend on it).
	Live bool
	// Data returns the event JSON for the id the event is given; it is called inside the
	// transaction, once.
	Data func(id int64) string
}

// EventWrite is everything one pipeline event commits. Its writes apply together, in the same
// transaction as the rest of the batch, and only if its repo is tracked when the transaction
// runs.
type EventWrite struct {
	// DID is the repo the event belongs to.
	DID string
	// Records are record index changes, in order; a later change of the same record wins.
	Records []RecordChange
	// Outbox are the events to deliver, in order; each gets the next event id.
	Outbox []OutboxEvent
	// Rev, when set, records the repo's new rev and prev_data.
	Rev *RepoRev
	// Identity, when set, updates the repo's handle and status, or deletes the repo.
	Identity *IdentityUpdate
}

// EventOutcome says what CommitBatch did with one EventWrite.
type EventOutcome struct {
	// Untracked is true when the repo was not tracked (never added, removed, or deleted by an
	// earlier event of the batch): nothing of the event was written.
	Untracked bool
	// Outbox are the rows written for the event's Outbox, in id order.
	Outbox []OutboxBuffer
}

// CommitResult reports a committed batch.
type CommitResult struct {
	// Outcomes has one entry per EventWrite, in order.
	Outcomes []EventOutcome
	// Rows counts the row writes: record index rows upserted or deleted, outbox rows, repo
	// rows updated or deleted.
	Rows int
}

// CommitBatch applies events in one transaction, as if one after the other: for each event of
// a tracked repo, its record index changes, outbox rows (with ids from ids, in order), rev and
// identity updates; an event of an untracked repo writes nothing. The repo rows of the batch
// are locked first (FOR UPDATE on Postgres; SQLite transactions are exclusive), so a repo
// removed concurrently is either removed before the batch (its events write nothing) or after
// it (with everything the batch wrote). Statements are multi-row, chunked and prepared (see
// stmts.go).
//
// If the transaction fails nothing is written and the error is returned; the ids it took are
// skipped, never reused.
func (db *DB) CommitBatch(ctx context.Context, ids *OutboxIDs, events []EventWrite) (CommitResult, error) {
	stmts, err := db.stmts(ctx)
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit batch: %w", err)
	}
	limit := ids.limit
	var res CommitResult
	err = db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		tracked, err := lockRepos(ctx, tx.Tx, stmts, events)
		if err != nil {
			return err
		}
		p := planBatch(events, tracked)
		if err := p.assignIDs(ctx, tx, ids, events); err != nil {
			return err
		}
		if res.Rows, err = p.exec(ctx, tx.Tx, stmts); err != nil {
			return err
		}
		res.Outcomes = p.outcomes
		return nil
	})
	if err != nil {
		ids.rollback(limit)
		return CommitResult{}, fmt.Errorf("commit batch: %w", err)
	}
	return res, nil
}

// lockRepos returns which DIDs of events are tracked, locking their repo rows in DID order
// (FOR UPDATE on Postgres).
func lockRepos(ctx context.Context, tx *sql.Tx, stmts *preparedStmts, events []EventWrite) (map[string]bool, error) {
	dids := make([]string, 0, len(events))
	for _, ev := range events {
		dids = append(dids, ev.DID)
	}
	slices.Sort(dids)
	dids = slices.Compact(dids)
	args := make([]any, len(dids))
	for i, did := range dids {
		args[i] = did
	}
	found, err := stmts.queryDIDs(ctx, tx, stmtLockRepos, args)
	if err != nil {
		return nil, fmt.Errorf("lock repos: %w", err)
	}
	tracked := make(map[string]bool, len(dids))
	for _, did := range found {
		tracked[did] = true
	}
	return tracked, nil
}

// recordKey is the primary key of repo_records.
type recordKey struct{ did, collection, rkey string }

// plannedEvent is an outbox event of events[event].
type plannedEvent struct {
	event int
	ev    OutboxEvent
}

// batchPlan is the net effect of a batch, computed in memory: later writes to the same record
// or repo replace earlier ones, so that each row is written once by multi-row statements.
type batchPlan struct {
	outcomes []EventOutcome
	records  map[recordKey]RecordChange
	recOrder []recordKey
	revs     map[string]RepoRev
	idents   map[string]IdentityUpdate
	repos    []string // DIDs with a rev or identity update, in first-seen order
	deleted  []string
	outbox   []plannedEvent
	rows     []OutboxBuffer
}

// planBatch folds events into a plan; tracked is updated as repos get deleted.
func planBatch(events []EventWrite, tracked map[string]bool) *batchPlan {
	p := &batchPlan{
		outcomes: make([]EventOutcome, len(events)),
		records:  make(map[recordKey]RecordChange),
		revs:     make(map[string]RepoRev),
		idents:   make(map[string]IdentityUpdate),
	}
	for i, ev := range events {
		if !tracked[ev.DID] {
			p.outcomes[i].Untracked = true
			continue
		}
		for _, rc := range ev.Records {
			k := recordKey{ev.DID, rc.Collection, rc.RKey}
			if _, ok := p.records[k]; !ok {
				p.recOrder = append(p.recOrder, k)
			}
			p.records[k] = rc
		}
		for _, ob := range ev.Outbox {
			p.outbox = append(p.outbox, plannedEvent{event: i, ev: ob})
		}
		if ev.Rev != nil {
			p.touch(ev.DID)
			p.revs[ev.DID] = *ev.Rev
		}
		if id := ev.Identity; id != nil && id.Status == AccountStatusDeleted {
			p.deleteRepo(ev.DID)
			tracked[ev.DID] = false
		} else if id != nil {
			p.touch(ev.DID)
			if id.Handle == "" {
				id2 := *id
				id2.Handle = p.idents[ev.DID].Handle
				id = &id2
			}
			p.idents[ev.DID] = *id
		}
	}
	return p
}

// touch notes that did has a repo row update.
func (p *batchPlan) touch(did string) {
	_, rev := p.revs[did]
	_, ident := p.idents[did]
	if !rev && !ident {
		p.repos = append(p.repos, did)
	}
}

// deleteRepo replaces every planned write of did's record index and repo row by the deletion
// of the repo.
func (p *batchPlan) deleteRepo(did string) {
	for _, k := range p.recOrder {
		if k.did == did {
			delete(p.records, k)
		}
	}
	delete(p.revs, did)
	delete(p.idents, did)
	p.deleted = append(p.deleted, did)
}

// assignIDs takes ids for the planned outbox events and renders their rows.
func (p *batchPlan) assignIDs(ctx context.Context, tx bun.Tx, ids *OutboxIDs, events []EventWrite) error {
	if len(p.outbox) == 0 {
		return nil
	}
	first, err := ids.take(ctx, tx, int64(len(p.outbox)))
	if err != nil {
		return err
	}
	p.rows = make([]OutboxBuffer, len(p.outbox))
	for j, pe := range p.outbox {
		id := first + int64(j)
		p.rows[j] = OutboxBuffer{ID: id, DID: events[pe.event].DID, Live: pe.ev.Live, Data: pe.ev.Data(id)}
	}
	for j := 0; j < len(p.outbox); {
		i, end := p.outbox[j].event, j+1
		for end < len(p.outbox) && p.outbox[end].event == i {
			end++
		}
		p.outcomes[i].Outbox = p.rows[j:end:end]
		j = end
	}
	return nil
}

// exec writes the plan and returns the number of row writes.
func (p *batchPlan) exec(ctx context.Context, tx *sql.Tx, stmts *preparedStmts) (int, error) {
	deleted := make([]any, len(p.deleted))
	for i, did := range p.deleted {
		deleted[i] = did
	}
	upserts, deletes := p.recordArgs()
	revs, handles, statuses := p.repoArgs()
	rows := func(what string, k rowStmtKind, args []any) func() error {
		return func() error {
			if err := stmts.execRows(ctx, tx, k, args); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
	}
	steps := []func() error{
		rows("delete repos", stmtDeleteRepoRecords, deleted),
		rows("delete repos", stmtDeleteResyncBuffers, deleted),
		rows("delete repos", stmtDeleteRepos, deleted),
		rows("delete records", stmtDeleteRecords, deletes),
		rows("upsert records", stmtUpsertRecords, upserts),
		func() error { return insertOutbox(ctx, tx, stmts, p.rows) },
		rows("update repos ([rev prev_data])", stmtUpdateRevs, revs),
		rows("update repos ([handle status])", stmtUpdateHandles, handles),
		rows("update repos ([status])", stmtUpdateStatuses, statuses),
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return 0, err
		}
	}
	return len(p.deleted) + rowCount(stmtDeleteRecords, deletes) + rowCount(stmtUpsertRecords, upserts) +
		len(p.rows) + rowCount(stmtUpdateRevs, revs) + rowCount(stmtUpdateHandles, handles) +
		rowCount(stmtUpdateStatuses, statuses), nil
}

// recordArgs returns the parameters of the record index rows to upsert (did, collection,
// rkey, cid) and of the keys to delete (did, collection, rkey).
func (p *batchPlan) recordArgs() (upserts, deletes []any) {
	for _, k := range p.recOrder {
		rc, ok := p.records[k]
		switch {
		case !ok:
		case rc.Delete:
			deletes = append(deletes, k.did, k.collection, k.rkey)
		default:
			upserts = append(upserts, k.did, k.collection, k.rkey, rc.CID)
		}
	}
	return upserts, deletes
}

// repoArgs returns the parameters of the repo row updates: revs (did, rev, prev_data),
// identity changes with a handle (did, handle, status), and status-only changes (did,
// status).
func (p *batchPlan) repoArgs() (revs, handles, statuses []any) {
	for _, did := range p.repos {
		if rev, ok := p.revs[did]; ok {
			revs = append(revs, did, rev.Rev, rev.PrevData)
		}
		id, ok := p.idents[did]
		switch {
		case !ok:
		case id.Handle != "":
			handles = append(handles, did, id.Handle, string(id.Status))
		default:
			statuses = append(statuses, did, string(id.Status))
		}
	}
	return revs, handles, statuses
}

// insertOutbox inserts outbox rows, at most batchSize rows and about maxStatementBytes of
// event JSON per statement.
func insertOutbox(ctx context.Context, tx *sql.Tx, stmts *preparedStmts, rows []OutboxBuffer) error {
	var args []any
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows) && n < batchSize && (n == 0 || size+len(rows[n].Data) <= maxStatementBytes) {
			size += len(rows[n].Data)
			n++
		}
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r.ID, r.DID, r.Live, r.Data)
		}
		if err := stmts.execRows(ctx, tx, stmtInsertOutbox, args); err != nil {
			return fmt.Errorf("insert outbox: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}
