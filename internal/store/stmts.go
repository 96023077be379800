package store

// Prepared statements of the hot paths: CommitBatch's writes, ClaimResync and RecordIndexPage.
//
// bun renders every query with its values inlined, so each multi-row INSERT is a new SQL text:
// bun escapes every value into it, and the database parses and plans it from scratch (in a
// SQLite backfill profile, sqlite3_prepare_v2 took 9% of tap's CPU and bun's value rendering
// another 10%). These statements bind their values instead and have fixed texts, each
// prepared once (database/sql prepares it again on each pooled connection the first time that
// connection runs it) and reused:
//
//   - SQLite binds one parameter per value, so a multi-row statement comes in a few shapes: 1,
//     2, 4, … maxStmtRows rows. n rows are written by ⌊n/maxStmtRows⌋ full statements and one
//     statement per set bit of the remainder. Statements are in-process: a few more of them
//     cost little.
//   - Postgres binds one array per column (unnest), so one statement writes any number of rows,
//     batchSize at most, in one round trip.
//
// No row is ever padded, repeated or reordered, so the rows written are exactly those of bun's
// statements.
//
// The drivers' own caches are not relied on: pgx would cache these statements by itself, but
// mattn/go-sqlite3's _stmt_cache_size would also keep every one-off statement bun renders
// (with its inlined JSON), evicting these.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// maxStmtRows is the largest number of rows (or keys) of one prepared multi-row statement on
// SQLite; a power of two. At 4 parameters per row it stays far below SQLite's bound parameter
// limit (32766 in the SQLite that mattn/go-sqlite3 bundles).
const maxStmtRows = 64

// stmtSizes is the number of shapes of each multi-row statement on SQLite: 1, 2, 4, …
// maxStmtRows rows.
const stmtSizes = 1 + 6 // log2(maxStmtRows)+1; TestStmtShapes checks it

// rowStmtKind names a multi-row statement.
type rowStmtKind int

// The multi-row statements of CommitBatch.
const (
	stmtLockRepos rowStmtKind = iota
	stmtDeleteRepoRecords
	stmtDeleteResyncBuffers
	stmtDeleteRepos
	stmtDeleteRecords
	stmtUpsertRecords
	stmtInsertOutbox
	stmtUpdateRevs
	stmtUpdateHandles
	stmtUpdateStatuses
	numRowStmts
)

// rowStmt is a multi-row statement. On SQLite its text is head, the row repeated (separated by
// ", "), then tail; every '?' of row is a parameter. On Postgres it is pg, whose parameters
// $1, $2, … are arrays: one per '?' of row, of the values of that column.
type rowStmt struct {
	head, row, tail string
	pg              string
}

// rowStmts are the statements of CommitBatch. They write the rows bun's queries wrote:
// lockRepos, the deletes and the upsert as before; the repo updates as bun's Bulk() UPDATE,
// joining the new values to repos on did.
var rowStmts = [numRowStmts]rowStmt{
	stmtLockRepos: {head: "SELECT did FROM repos WHERE did IN (", row: "?", tail: ") ORDER BY did",
		pg: "SELECT did FROM repos WHERE did IN " + pgDIDs + " ORDER BY did FOR UPDATE"},
	stmtDeleteRepoRecords: {head: "DELETE FROM repo_records WHERE did IN (", row: "?", tail: ")",
		pg: "DELETE FROM repo_records WHERE did IN " + pgDIDs},
	stmtDeleteResyncBuffers: {head: "DELETE FROM resync_buffers WHERE did IN (", row: "?", tail: ")",
		pg: "DELETE FROM resync_buffers WHERE did IN " + pgDIDs},
	stmtDeleteRepos: {head: "DELETE FROM repos WHERE did IN (", row: "?", tail: ")",
		pg: "DELETE FROM repos WHERE did IN " + pgDIDs},
	stmtDeleteRecords: {head: "DELETE FROM repo_records WHERE (did, collection, rkey) IN (", row: "(?, ?, ?)", tail: ")",
		pg: "DELETE FROM repo_records WHERE (did, collection, rkey) IN " +
			"(SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))"},
	stmtUpsertRecords: {head: "INSERT INTO repo_records (did, collection, rkey, cid) VALUES ", row: "(?, ?, ?, ?)",
		tail: upsertRecordsConflict,
		pg: "INSERT INTO repo_records (did, collection, rkey, cid) " +
			"SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])" + upsertRecordsConflict},
	stmtInsertOutbox: {head: "INSERT INTO outbox_buffers (id, did, live, data) VALUES ", row: "(?, ?, ?, ?)",
		pg: "INSERT INTO outbox_buffers (id, did, live, data) " +
			"SELECT * FROM unnest($1::bigint[], $2::text[], $3::boolean[], $4::text[])"},
	stmtUpdateRevs: {head: "WITH _data (did, rev, prev_data) AS (VALUES ", row: "(?, ?, ?)",
		tail: ")" + updateRevs + "_data WHERE r.did = _data.did",
		pg:   updateRevs + "unnest($1::text[], $2::text[], $3::text[]) AS _data (did, rev, prev_data) WHERE r.did = _data.did"},
	stmtUpdateHandles: {head: "WITH _data (did, handle, status) AS (VALUES ", row: "(?, ?, ?)",
		tail: ")" + updateHandles + "_data WHERE r.did = _data.did",
		pg:   updateHandles + "unnest($1::text[], $2::text[], $3::text[]) AS _data (did, handle, status) WHERE r.did = _data.did"},
	stmtUpdateStatuses: {head: "WITH _data (did, status) AS (VALUES ", row: "(?, ?)",
		tail: ")" + updateStatuses + "_data WHERE r.did = _data.did",
		pg:   updateStatuses + "unnest($1::text[], $2::text[]) AS _data (did, status) WHERE r.did = _data.did"},
}

// Parts of rowStmts.
const (
	// pgDIDs is the set of DIDs in the array $1. Unlike did = ANY($1), whose generic plan
	// (once Postgres stops planning the prepared statement for each call) may scan every repo
	// and search the array for each, it plans as a join.
	pgDIDs = "(SELECT unnest($1::text[]))"

	upsertRecordsConflict = " ON CONFLICT (did, collection, rkey) DO UPDATE SET cid = excluded.cid"
	updateRevs            = " UPDATE repos AS r SET rev = _data.rev, prev_data = _data.prev_data FROM "
	updateHandles         = " UPDATE repos AS r SET handle = _data.handle, status = _data.status FROM "
	updateStatuses        = " UPDATE repos AS r SET status = _data.status FROM "
)

// cols returns the number of parameters of one row.
func (s rowStmt) cols() int { return strings.Count(s.row, "?") }

// rowCount returns the number of rows of statement k in args.
func rowCount(k rowStmtKind, args []any) int { return len(args) / rowStmts[k].cols() }

// sqlite returns the SQLite statement for rows rows.
func (s rowStmt) sqlite(rows int) string {
	var b strings.Builder
	b.WriteString(s.head)
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.row)
	}
	b.WriteString(s.tail)
	return b.String()
}

// placeholders returns query, whose parameters are written '?' (and which has no other '?'),
// in dialect d: on Postgres the n-th '?' becomes $n.
func placeholders(d Dialect, query string) string {
	if d != DialectPostgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range []byte(query) {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stmtShape returns the rows of the largest SQLite shape that fits in rows (> 0), and its
// index.
func stmtShape(rows int) (n, index int) {
	if rows >= maxStmtRows {
		return maxStmtRows, stmtSizes - 1
	}
	index = bits.Len(uint(rows)) - 1
	return 1 << index, index
}

// preparedStmts are the prepared statements of a DB.
type preparedStmts struct {
	// arrays is set on Postgres, where rows[k][0] is the only statement of kind k and binds
	// column arrays.
	arrays bool
	// rows holds each multi-row statement in each shape: on SQLite rows[k][i] writes 1<<i
	// rows.
	rows [numRowStmts][stmtSizes]*sql.Stmt
	// claim claims a repo of each state of claimOrder for resync (see claimSQL).
	claim map[RepoState]*sql.Stmt
	// indexPage reads a page of a repo's record index (see indexPageSQL).
	indexPage *sql.Stmt
}

// stmtCache prepares a DB's statements on first use. Its zero value is ready.
type stmtCache struct {
	// mu serialises preparation.
	mu       sync.Mutex
	prepared atomic.Pointer[preparedStmts]
}

// stmts returns db's prepared statements, preparing them all the first time. It must not run
// inside a transaction of db: preparing takes a pooled connection of its own, and a pool of
// one connection would wait forever.
func (db *DB) stmts(ctx context.Context) (*preparedStmts, error) {
	c := &db.stmtCache
	if p := c.prepared.Load(); p != nil {
		return p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.prepared.Load(); p != nil {
		return p, nil
	}
	p, err := prepareStmts(ctx, db.bun.DB, db.dialect)
	if err != nil {
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	c.prepared.Store(p)
	return p, nil
}

// prepareStmts prepares every statement of preparedStmts on sqldb; on error it closes those it
// prepared.
func prepareStmts(ctx context.Context, sqldb *sql.DB, d Dialect) (_ *preparedStmts, err error) {
	p := &preparedStmts{arrays: d == DialectPostgres}
	defer func() {
		if err != nil {
			_ = p.close()
		}
	}()
	prepare := func(query string) (*sql.Stmt, error) {
		stmt, err := sqldb.PrepareContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("%.60s…: %w", query, err)
		}
		return stmt, nil
	}
	for k, rs := range rowStmts {
		if p.arrays {
			if p.rows[k][0], err = prepare(rs.pg); err != nil {
				return nil, err
			}
			continue
		}
		for i := range stmtSizes {
			if p.rows[k][i], err = prepare(rs.sqlite(1 << i)); err != nil {
				return nil, err
			}
		}
	}
	p.claim = make(map[RepoState]*sql.Stmt, len(claimOrder))
	for _, st := range claimOrder {
		if p.claim[st], err = prepare(claimSQL(d, st)); err != nil {
			return nil, err
		}
	}
	if p.indexPage, err = prepare(indexPageSQL(d)); err != nil {
		return nil, err
	}
	return p, nil
}

// close closes every statement of p.
func (p *preparedStmts) close() error {
	var errs []error
	closeStmt := func(s *sql.Stmt) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	for k := range p.rows {
		for _, s := range p.rows[k] {
			closeStmt(s)
		}
	}
	for _, s := range p.claim {
		closeStmt(s)
	}
	closeStmt(p.indexPage)
	return errors.Join(errs...)
}

// close closes the statements prepared so far. The DB must not be used afterwards.
func (c *stmtCache) close() error {
	if p := c.prepared.Swap(nil); p != nil {
		return p.close()
	}
	return nil
}

// execRows runs statement k in tx for the rows of args (k's parameters of each row, row after
// row), in as few statements as its shapes allow.
func (p *preparedStmts) execRows(ctx context.Context, tx *sql.Tx, k rowStmtKind, args []any) error {
	cols := rowStmts[k].cols()
	for len(args) > 0 {
		stmt, n := p.shape(k, len(args)/cols)
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, p.params(args[:n*cols], cols)...); err != nil {
			return err
		}
		args = args[n*cols:]
	}
	return nil
}

// queryDIDs runs the one-column query k in tx for the rows of args and returns the DIDs it
// selects, statement after statement.
func (p *preparedStmts) queryDIDs(ctx context.Context, tx *sql.Tx, k rowStmtKind, args []any) ([]string, error) {
	var out []string
	for len(args) > 0 {
		stmt, n := p.shape(k, len(args))
		rows, err := tx.StmtContext(ctx, stmt).QueryContext(ctx, p.params(args[:n], 1)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var did string
			if err := rows.Scan(&did); err != nil {
				_ = rows.Close()
				return nil, err
			}
			out = append(out, did)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
		args = args[n:]
	}
	return out, nil
}

// shape returns the statement of kind k that writes the first of rows (> 0) rows, and how
// many it writes.
func (p *preparedStmts) shape(k rowStmtKind, rows int) (*sql.Stmt, int) {
	if p.arrays {
		return p.rows[k][0], min(rows, batchSize)
	}
	n, i := stmtShape(rows)
	return p.rows[k][i], n
}

// params returns the parameters of a statement for args (rows of cols values): args itself on
// SQLite, one array per column on Postgres.
func (p *preparedStmts) params(args []any, cols int) []any {
	if !p.arrays {
		return args
	}
	arrays := make([]any, cols)
	for c := range arrays {
		switch args[c].(type) {
		case int64:
			arrays[c] = column[int64](args, cols, c)
		case bool:
			arrays[c] = column[bool](args, cols, c)
		default:
			arrays[c] = column[string](args, cols, c)
		}
	}
	return arrays
}

// column returns column c of args (rows of cols values).
func column[T any](args []any, cols, c int) []T {
	out := make([]T, 0, len(args)/cols)
	for i := c; i < len(args); i += cols {
		out = append(out, args[i].(T))
	}
	return out
}
