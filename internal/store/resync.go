package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/uptrace/bun"
)

// claimOrder is the priority in which resync jobs are claimed (spec B§9).
var claimOrder = []RepoState{RepoStatePending, RepoStateDesynchronized, RepoStateError}

// ClaimResync picks one repo that needs a resync — pending first, then
// desynchronized, then error — whose retry_after has passed at now, sets it
// to resyncing and returns it. ok is false when there is nothing to claim.
// On Postgres the candidate row is locked with FOR UPDATE SKIP LOCKED, so
// several tap processes sharing one database never claim the same repo; on
// SQLite the single writer serialises claims.
func (db *DB) ClaimResync(ctx context.Context, now time.Time) (repo Repo, ok bool, err error) {
	for _, st := range claimOrder {
		repo, ok, err = db.claimState(ctx, st, now.Unix())
		if err != nil || ok {
			return repo, ok, err
		}
	}
	return Repo{}, false, nil
}

// claimSQL returns the statement that claims one repo in state st; its one parameter is the
// time (unix seconds) retry_after must have passed. The states are literals, not parameters,
// so that Postgres plans the prepared statement for the state it claims: a plan made for any
// state could scan every repo to find none in a rare state. Nullable columns read as "".
func claimSQL(d Dialect, st RepoState) string {
	lock := ""
	if d == DialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return placeholders(d, "UPDATE repos SET state = '"+string(RepoStateResyncing)+"' WHERE did = "+
		"(SELECT did FROM repos WHERE state = '"+string(st)+"' AND (retry_after = 0 OR retry_after <= ?) LIMIT 1"+
		lock+") AND state = '"+string(st)+"' RETURNING did, state, status, COALESCE(handle, ''), COALESCE(rev, ''), "+
		"COALESCE(prev_data, ''), COALESCE(error_msg, ''), retry_count, retry_after")
}

func (db *DB) claimState(ctx context.Context, st RepoState, now int64) (Repo, bool, error) {
	stmts, err := db.stmts(ctx)
	if err != nil {
		return Repo{}, false, fmt.Errorf("claim resync: %w", err)
	}
	var r Repo
	err = stmts.claim[st].QueryRowContext(ctx, now).Scan(
		&r.DID, (*string)(&r.State), (*string)(&r.Status), &r.Handle, &r.Rev, &r.PrevData,
		&r.ErrorMsg, &r.RetryCount, &r.RetryAfter)
	if errors.Is(err, sql.ErrNoRows) {
		return Repo{}, false, nil
	}
	if err != nil {
		return Repo{}, false, fmt.Errorf("claim resync: %w", err)
	}
	return r, true, nil
}

// FinishResync records a finished resync: a repo still resyncing becomes
// active with error and retries cleared. A repo that left resyncing
// meanwhile (a buffered commit broke the chain) or was removed is left as
// it is.
func (db *DB) FinishResync(ctx context.Context, did string) error {
	return db.updateRepo(ctx, did, "finish resync", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("state = ?", RepoStateActive).Set("error_msg = ''").
			Set("retry_count = 0").Set("retry_after = 0").Where("state = ?", RepoStateResyncing)
	})
}

// MarkResyncFailed records a failed resync: state (error, or
// desynchronized for a rate-limited PDS), the message, one more retry and
// the time before which it is not retried.
func (db *DB) MarkResyncFailed(ctx context.Context, did string, state RepoState, msg string, retryAfter time.Time) error {
	return db.updateRepo(ctx, did, "mark resync failed", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("state = ?", state).Set("error_msg = ?", msg).
			Set("retry_count = retry_count + 1").Set("retry_after = ?", retryAfter.Unix())
	})
}

// MarkDesynchronized records a broken commit chain (or a newer #sync): the
// repo waits for a resync, with msg saying why.
func (db *DB) MarkDesynchronized(ctx context.Context, did, msg string) error {
	return db.updateRepo(ctx, did, "mark desynchronized", func(q *bun.UpdateQuery) *bun.UpdateQuery {
		return q.Set("state = ?", RepoStateDesynchronized).Set("error_msg = ?", msg).Set("retry_after = 0")
	})
}

func (db *DB) updateRepo(ctx context.Context, did, what string, set func(*bun.UpdateQuery) *bun.UpdateQuery) error {
	_, err := set(db.bun.NewUpdate().Model((*Repo)(nil))).Where("did = ?", did).Exec(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, did, err)
	}
	return nil
}

// BufferCommit appends a live commit of a repo that is not active yet to
// the resync buffer; it is released after the repo's snapshot.
func (db *DB) BufferCommit(ctx context.Context, did, data string) error {
	row := ResyncBuffer{DID: did, Data: data}
	if _, err := db.bun.NewInsert().Model(&row).Column("did", "data").Exec(ctx); err != nil {
		return fmt.Errorf("buffer commit of %s: %w", did, err)
	}
	return nil
}

// ResyncBufferPage returns up to limit buffered commits of did with an id
// above afterID, oldest first.
func (db *DB) ResyncBufferPage(ctx context.Context, did string, afterID int64, limit int) ([]ResyncBuffer, error) {
	rows := []ResyncBuffer{}
	err := db.bun.NewSelect().Model(&rows).Where("did = ?", did).Where("id > ?", afterID).
		Order("id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read resync buffer of %s: %w", did, err)
	}
	return rows, nil
}

// DeleteResyncBuffer removes one buffered commit, once released or found
// unusable.
func (db *DB) DeleteResyncBuffer(ctx context.Context, id int64) error {
	if _, err := db.bun.NewDelete().Model((*ResyncBuffer)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("delete resync buffer row %d: %w", id, err)
	}
	return nil
}

// IndexEntry is one row of the record index, keyed by its repo path.
type IndexEntry struct {
	// Path is "collection/rkey", the record's MST key.
	Path string `bun:"path"`
	// CID is the record's CID.
	CID string `bun:"cid"`
}

// indexPageSQL returns the statement of RecordIndexPage: its parameters are the DID, the
// path to start after and the limit.
func indexPageSQL(d Dialect) string {
	path := "collection || '/' || rkey"
	if d == DialectPostgres {
		path = `(collection || '/' || rkey) COLLATE "C"`
	}
	return placeholders(d, "SELECT "+path+" AS path, cid FROM repo_records WHERE did = ? AND "+path+" > ? "+
		"ORDER BY "+path+" LIMIT ?")
}

// RecordIndexPage returns up to limit index entries of did whose path
// sorts after afterPath, in MST key order (bytewise on "collection/rkey",
// which is not the order of (collection, rkey)). A limit of 0 means no limit.
func (db *DB) RecordIndexPage(ctx context.Context, did, afterPath string, limit int) ([]IndexEntry, error) {
	stmts, err := db.stmts(ctx)
	if err != nil {
		return nil, fmt.Errorf("read record index of %s: %w", did, err)
	}
	lim := int64(limit)
	if limit == 0 {
		lim = math.MaxInt64
	}
	rows, err := stmts.indexPage.QueryContext(ctx, did, afterPath, lim)
	if err != nil {
		return nil, fmt.Errorf("read record index of %s: %w", did, err)
	}
	defer rows.Close()
	page := []IndexEntry{}
	for rows.Next() {
		var e IndexEntry
		if err := rows.Scan(&e.Path, &e.CID); err != nil {
			return nil, fmt.Errorf("read record index of %s: %w", did, err)
		}
		page = append(page, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read record index of %s: %w", did, err)
	}
	return page, nil
}
