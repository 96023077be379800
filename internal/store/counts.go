package store

import (
	"context"
	"fmt"
)

// CountRepos returns the number of tracked repos (GET /stats/repo-count).
func (db *DB) CountRepos(ctx context.Context) (int64, error) {
	return db.count(ctx, (*Repo)(nil), "repos")
}

// CountRecords returns the number of indexed records (GET /stats/record-count).
func (db *DB) CountRecords(ctx context.Context) (int64, error) {
	return db.count(ctx, (*RepoRecord)(nil), "records")
}

// CountOutbox returns the number of outbox rows, including acked rows not yet deleted
// (GET /stats/outbox-buffer).
func (db *DB) CountOutbox(ctx context.Context) (int64, error) {
	return db.count(ctx, (*OutboxBuffer)(nil), "outbox")
}

// CountResyncBuffer returns the number of buffered commits (GET /stats/resync-buffer).
func (db *DB) CountResyncBuffer(ctx context.Context) (int64, error) {
	return db.count(ctx, (*ResyncBuffer)(nil), "resync buffer")
}

// CountRecordsForDID returns the number of indexed records of did (GET /info/:did).
func (db *DB) CountRecordsForDID(ctx context.Context, did string) (int64, error) {
	n, err := db.bun.NewSelect().Model((*RepoRecord)(nil)).Where("did = ?", did).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count records of %q: %w", did, err)
	}
	return n, nil
}

// count returns COUNT(*) of model's table; what names it in errors.
func (db *DB) count(ctx context.Context, model any, what string) (int64, error) {
	n, err := db.bun.NewSelect().Model(model).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", what, err)
	}
	return n, nil
}
