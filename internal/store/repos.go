package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// batchSize is the number of rows (or keys) per statement of the batched queries.
const batchSize = 500

// ListReposQuery selects a page of repos for ListRepos.
type ListReposQuery struct {
	// State keeps only repos in this state; "" keeps all.
	State RepoState
	// After is an exclusive DID cursor: only repos whose DID sorts after it are returned.
	After string
	// Limit caps the number of repos returned; 0 or less means no limit.
	Limit int
}

// AddRepos starts tracking dids: each new DID gets a row in state pending with account status
// active. DIDs already tracked (or repeated in dids) are left untouched. It runs in one
// transaction, batchSize rows per statement, and returns how many rows it inserted. An empty
// dids is a no-op.
func (db *DB) AddRepos(ctx context.Context, dids []string) (int64, error) {
	if len(dids) == 0 {
		return 0, nil
	}
	var inserted int64
	err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		rows := make([]Repo, 0, min(len(dids), batchSize))
		for chunk := range slices.Chunk(dids, batchSize) {
			rows = rows[:0]
			for _, did := range chunk {
				rows = append(rows, Repo{DID: did, State: RepoStatePending, Status: AccountStatusActive})
			}
			res, err := tx.NewInsert().Model(&rows).
				Column("did", "state", "status").
				On("CONFLICT (did) DO NOTHING").
				Exec(ctx)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			inserted += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add repos: %w", err)
	}
	return inserted, nil
}

// RemoveRepos stops tracking dids: in one transaction it deletes their record index rows,
// resync buffer rows and repo rows. Events already in the outbox are kept (and delivered).
// Unknown DIDs are ignored.
func (db *DB) RemoveRepos(ctx context.Context, dids []string) error {
	if len(dids) == 0 {
		return nil
	}
	// The repos rows go first: the order stage's commit locks a repo row
	// before its records, so taking the locks in the same order cannot
	// deadlock on Postgres.
	models := []any{(*Repo)(nil), (*RepoRecord)(nil), (*ResyncBuffer)(nil)}
	err := db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for chunk := range slices.Chunk(dids, batchSize) {
			for _, model := range models {
				if _, err := tx.NewDelete().Model(model).Where("did IN (?)", bun.List(chunk)).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove repos: %w", err)
	}
	return nil
}

// GetRepo returns the repo row of did, or an error wrapping ErrNotFound if it is not tracked.
func (db *DB) GetRepo(ctx context.Context, did string) (Repo, error) {
	var repo Repo
	err := db.bun.NewSelect().Model(&repo).Where("did = ?", did).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Repo{}, fmt.Errorf("repo %q: %w", did, ErrNotFound)
	}
	if err != nil {
		return Repo{}, fmt.Errorf("get repo %q: %w", did, err)
	}
	return repo, nil
}

// ListRepos returns a page of repos ordered by DID.
func (db *DB) ListRepos(ctx context.Context, q ListReposQuery) ([]Repo, error) {
	repos := []Repo{}
	sel := db.bun.NewSelect().Model(&repos).Order("did ASC")
	if q.State != "" {
		sel = sel.Where("state = ?", q.State)
	}
	if q.After != "" {
		sel = sel.Where("did > ?", q.After)
	}
	if q.Limit > 0 {
		sel = sel.Limit(int64(q.Limit))
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list repos: %w", err)
	}
	return repos, nil
}

// ResetResyncing moves every repo left in state resyncing (by a process that stopped
// mid-resync) to desynchronized, so that it is resynced again. Run it at startup, before
// resync workers start. It returns how many repos it moved.
func (db *DB) ResetResyncing(ctx context.Context) (int64, error) {
	res, err := db.bun.NewUpdate().Model((*Repo)(nil)).
		Set("state = ?", RepoStateDesynchronized).
		Where("state = ?", RepoStateResyncing).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("reset resyncing repos: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("reset resyncing repos: %w", err)
	}
	return n, nil
}
