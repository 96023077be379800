package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/uptrace/bun"
)

// OutboxNextIDKey is the tap_meta key of the outbox id high-water mark: no event id at or
// above its value has been handed out, so every reservation starts there or higher.
const OutboxNextIDKey = "outbox_next_id"

// MaxOutboxID is the largest event id: ids are JSON numbers that JavaScript clients read as
// doubles, exact only up to 2^53-1.
const MaxOutboxID = 1<<53 - 1

// ErrOutboxIDsExhausted is returned when an id above MaxOutboxID would be needed.
var ErrOutboxIDsExhausted = errors.New("outbox event ids exhausted (2^53-1 reached)")

// NextOutboxID returns the first id a new event may get: the larger of the tap_meta high-water
// mark and MAX(outbox_buffers.id)+1, and at least 1. The second term makes a database written
// by the reference Tap (which keeps no high-water mark) continue above its ids.
func (db *DB) NextOutboxID(ctx context.Context) (int64, error) {
	mark, err := db.outboxMark(ctx, db.bun)
	if err != nil {
		return 0, err
	}
	var maxID int64
	err = db.bun.NewSelect().Model((*OutboxBuffer)(nil)).ColumnExpr("COALESCE(MAX(id), 0)").Scan(ctx, &maxID)
	if err != nil {
		return 0, fmt.Errorf("max outbox id: %w", err)
	}
	return max(mark, maxID+1, 1), nil
}

// outboxMark reads the high-water mark through idb (0 when none is stored).
func (db *DB) outboxMark(ctx context.Context, idb bun.IDB) (int64, error) {
	var value string
	err := idb.NewSelect().Model((*Meta)(nil)).Column("value").
		Where("? = ?", bun.Ident("key"), OutboxNextIDKey).Scan(ctx, &value)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 0, fmt.Errorf("get meta %q: %w", OutboxNextIDKey, err)
	}
	return parseMark(value)
}

// parseMark parses a stored high-water mark.
func parseMark(value string) (int64, error) {
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("meta %q holds %q, not an event id", OutboxNextIDKey, value)
	}
	return n, nil
}

// ListOutbox returns the outbox events with id > afterID in id order, at most limit of them
// (limit <= 0 means all).
func (db *DB) ListOutbox(ctx context.Context, afterID int64, limit int) ([]OutboxBuffer, error) {
	rows := []OutboxBuffer{}
	q := db.bun.NewSelect().Model(&rows).Where("id > ?", afterID).Order("id ASC")
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return rows, nil
}

// DeleteOutbox deletes the outbox events with the given ids (acked by every sink) in one
// transaction and returns how many rows it deleted. Unknown ids are ignored.
func (db *DB) DeleteOutbox(ctx context.Context, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var deleted int64
	err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for chunk := range slices.Chunk(ids, batchSize) {
			res, err := tx.NewDelete().Model((*OutboxBuffer)(nil)).Where("id IN (?)", bun.List(chunk)).Exec(ctx)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			deleted += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete outbox: %w", err)
	}
	return deleted, nil
}

// OutboxIDs hands out event ids: strictly increasing, never reused, also across restarts and
// failed transactions. Ids are reserved in blocks: the transaction that takes the first id of
// a block also raises the tap_meta high-water mark past the block, so a restart continues
// above every id that may have been used, without a write per event.
//
// The mark is read and raised under a row lock, so tap processes sharing one Postgres database
// take disjoint blocks. Within one process ids follow commit order as long as a single
// goroutine commits. An OutboxIDs is not safe for concurrent use.
type OutboxIDs struct {
	block int64
	// next is the next id to hand out.
	next int64
	// limit bounds the block reserved in a committed transaction: ids in [next, limit) are
	// ours. next >= limit means a new block must be reserved first.
	limit int64
}

// NewOutboxIDs returns an allocator starting at NextOutboxID that reserves block ids at a time
// (block < 1 means 1).
func (db *DB) NewOutboxIDs(ctx context.Context, block int) (*OutboxIDs, error) {
	next, err := db.NextOutboxID(ctx)
	if err != nil {
		return nil, err
	}
	return &OutboxIDs{block: int64(max(block, 1)), next: next, limit: next}, nil
}

// Next returns the id the next event would get if no reservation moved it.
func (a *OutboxIDs) Next() int64 { return a.next }

// take hands out n consecutive ids for use in tx, first reserving a block in tx when the
// current one is used up. The allocator moves on at once; if tx then fails, call rollback with
// the limit before take, so the block is reserved again (from the new position) by the next
// transaction: the ids handed out are skipped, never reused.
func (a *OutboxIDs) take(ctx context.Context, tx bun.Tx, n int64) (int64, error) {
	if a.next+n > a.limit {
		mark, err := lockOutboxMark(ctx, tx)
		if err != nil {
			return 0, err
		}
		// If nobody reserved past our block, its unused ids are still ours: continue from
		// next, so that ids stay dense. Otherwise start above the other reservation.
		start := a.next
		if mark > a.limit {
			start = max(a.next, mark)
		}
		limit := max(start, a.limit) + max(a.block, n)
		if limit-1 > MaxOutboxID {
			return 0, ErrOutboxIDsExhausted
		}
		_, err = tx.NewUpdate().Model((*Meta)(nil)).Set("value = ?", strconv.FormatInt(limit, 10)).
			Where("? = ?", bun.Ident("key"), OutboxNextIDKey).Exec(ctx)
		if err != nil {
			return 0, fmt.Errorf("raise %s: %w", OutboxNextIDKey, err)
		}
		a.next, a.limit = start, limit
	}
	first := a.next
	a.next += n
	return first, nil
}

// rollback undoes the reservation of a transaction that failed (limit is the value before
// take); the ids it handed out stay skipped.
func (a *OutboxIDs) rollback(limit int64) { a.limit = limit }

// lockOutboxMark returns the high-water mark and holds its row lock until tx ends; a missing
// row is created with 0. The upsert locks the row on both backends, where SELECT … FOR UPDATE
// would not lock a row that does not exist yet.
func lockOutboxMark(ctx context.Context, tx bun.Tx) (int64, error) {
	var value string
	err := tx.NewInsert().Model(&Meta{Key: OutboxNextIDKey, Value: "0"}).
		On("CONFLICT (?) DO UPDATE", bun.Ident("key")).
		Set("? = ?TableAlias.?", bun.Ident("value"), bun.Ident("value")).
		Returning("?", bun.Ident("value")).
		Scan(ctx, &value)
	if err != nil {
		return 0, fmt.Errorf("lock %s: %w", OutboxNextIDKey, err)
	}
	return parseMark(value)
}
