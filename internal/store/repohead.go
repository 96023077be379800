package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// RepoHead is the part of a repo row that the stages read for every event: the sync state,
// the head of the repo's commit chain and its identity fields.
type RepoHead struct {
	// State is the sync state.
	State RepoState
	// Status is the account status.
	Status AccountStatus
	// Handle is the last known handle; "" when unknown.
	Handle string
	// Rev is the rev of the last applied commit; "" before the first resync.
	Rev string
	// PrevData is the MST root CID of the last applied commit.
	PrevData string
}

// repoHeadQuery selects a RepoHead; its one parameter is the DID, written as the dialect's
// placeholder by repoHeadSQL. NULL columns of reference databases read as "".
const repoHeadQuery = `SELECT state, status, COALESCE(handle, ''), COALESCE(rev, ''), COALESCE(prev_data, '') FROM repos WHERE did = `

// repoHeadSQL returns repoHeadQuery for dialect d.
func repoHeadSQL(d Dialect) string {
	if d == DialectPostgres {
		return repoHeadQuery + "$1"
	}
	return repoHeadQuery + "?"
}

// prepareRepoHead prepares the statement of GetRepoHead. database/sql prepares it again on
// each pooled connection the first time that connection runs it.
func (db *DB) prepareRepoHead(ctx context.Context) error {
	stmt, err := db.bun.DB.PrepareContext(ctx, repoHeadSQL(db.dialect))
	if err != nil {
		return fmt.Errorf("prepare repo head query: %w", err)
	}
	db.repoHead = stmt
	return nil
}

// GetRepoHead returns the state, status, handle, rev and prev_data of did's repo row, or an error
// wrapping ErrNotFound if it is not tracked. It reads the same row as GetRepo, through one
// prepared statement and without bun's query building and reflection, for the per-event read
// of the scope, backfill and verify stages.
//
// Within a context made by WithRepoHead for did, it returns that head without a query.
func (db *DB) GetRepoHead(ctx context.Context, did string) (RepoHead, error) {
	if m, ok := ctx.Value(headMemoKey{}).(*headMemo); ok && m.did == did {
		return m.head, nil
	}
	var h RepoHead
	err := db.repoHead.QueryRowContext(ctx, did).Scan((*string)(&h.State), (*string)(&h.Status), &h.Handle, &h.Rev, &h.PrevData)
	if errors.Is(err, sql.ErrNoRows) {
		return RepoHead{}, fmt.Errorf("repo %q: %w", did, ErrNotFound)
	}
	if err != nil {
		return RepoHead{}, fmt.Errorf("get repo head %q: %w", did, err)
	}
	return h, nil
}

// headMemo is a repo head read once for one event.
type headMemo struct {
	did  string
	head RepoHead
}

type headMemoKey struct{}

// WithRepoHead returns a context in which GetRepoHead(did) answers head without reading the
// database. The scope stage reads the head of every firehose event's repo once and passes it
// down the stage chain this way, so the backfill and verify stages do not read the same row
// again (three identical reads were ~10% of tap's CPU under live load). It is only valid until
// the chain writes the row: the order stage, last in the chain, does; nothing reads after it.
func WithRepoHead(ctx context.Context, did string, head RepoHead) context.Context {
	return context.WithValue(ctx, headMemoKey{}, &headMemo{did: did, head: head})
}
