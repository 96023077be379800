package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// ListOutboxIDs returns the ids of the first limit outbox events in id order (limit <= 0
// means all). They are read by one statement, so from one consistent snapshot of the table:
// an outbox follower relies on that to see every writer's rows as a prefix of what it commits.
func (db *DB) ListOutboxIDs(ctx context.Context, limit int) ([]int64, error) {
	ids := []int64{}
	q := db.bun.NewSelect().Model((*OutboxBuffer)(nil)).Column("id").Order("id ASC")
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if err := q.Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("list outbox ids: %w", err)
	}
	return ids, nil
}

// GetOutbox returns the outbox events with the given ids, in id order; ids without a row are
// left out.
func (db *DB) GetOutbox(ctx context.Context, ids []int64) ([]OutboxBuffer, error) {
	rows := []OutboxBuffer{}
	for chunk := range slices.Chunk(ids, batchSize) {
		var part []OutboxBuffer
		err := db.bun.NewSelect().Model(&part).Where("id IN (?)", bun.List(chunk)).Order("id ASC").Scan(ctx)
		if err != nil {
			return nil, fmt.Errorf("get outbox: %w", err)
		}
		rows = append(rows, part...)
	}
	slices.SortFunc(rows, func(a, b OutboxBuffer) int { return cmp.Compare(a.ID, b.ID) })
	return rows, nil
}
