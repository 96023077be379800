package store

import (
	"fmt"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStmtShapes checks the shape constants and that n rows are split into the largest shapes.
func TestStmtShapes(t *testing.T) {
	require.Equal(t, 1, bits.OnesCount(maxStmtRows), "maxStmtRows is a power of two")
	require.Equal(t, bits.Len(maxStmtRows), stmtSizes)
	for k, rs := range rowStmts {
		require.NotEmpty(t, rs.head, "statement %d", k)
		require.NotEmpty(t, rs.pg, "statement %d", k)
		// SQLite bundled with mattn/go-sqlite3 binds at most 32766 parameters, Postgres 65535.
		require.LessOrEqual(t, maxStmtRows*rs.cols(), 32766)
	}
	split := func(rows int) []int {
		var out []int
		for rows > 0 {
			n, i := stmtShape(rows)
			require.Equal(t, 1<<i, n)
			out = append(out, n)
			rows -= n
		}
		return out
	}
	require.Empty(t, split(0))
	require.Equal(t, []int{1}, split(1))
	require.Equal(t, []int{32, 16, 8, 4, 2, 1}, split(maxStmtRows-1))
	require.Equal(t, []int{maxStmtRows}, split(maxStmtRows))
	require.Equal(t, []int{maxStmtRows, 1}, split(maxStmtRows+1))
	require.Equal(t, []int{maxStmtRows, maxStmtRows, maxStmtRows, 32, 4, 1}, split(3*maxStmtRows+37))
}

// TestStmtSQL pins some statement texts of both dialects.
func TestStmtSQL(t *testing.T) {
	require.Equal(t, "INSERT INTO outbox_buffers (id, did, live, data) VALUES (?, ?, ?, ?), (?, ?, ?, ?)",
		rowStmts[stmtInsertOutbox].sqlite(2))
	require.Equal(t, "SELECT did FROM repos WHERE did IN (?) ORDER BY did", rowStmts[stmtLockRepos].sqlite(1))
	require.Equal(t, "DELETE FROM repo_records WHERE (did, collection, rkey) IN ((?, ?, ?), (?, ?, ?))",
		rowStmts[stmtDeleteRecords].sqlite(2))
	require.Equal(t, "WITH _data (did, status) AS (VALUES (?, ?)) UPDATE repos AS r SET status = _data.status "+
		"FROM _data WHERE r.did = _data.did", rowStmts[stmtUpdateStatuses].sqlite(1))
	require.Equal(t, "UPDATE repos AS r SET status = _data.status FROM unnest($1::text[], $2::text[]) "+
		"AS _data (did, status) WHERE r.did = _data.did", rowStmts[stmtUpdateStatuses].pg[1:])
	for k, rs := range rowStmts {
		require.Contains(t, rs.pg, fmt.Sprintf("$%d::", rs.cols()), "statement %d: one array per column", k)
		require.NotContains(t, rs.pg, fmt.Sprintf("$%d", rs.cols()+1), "statement %d: one array per column", k)
	}
	require.Contains(t, claimSQL(DialectPostgres, RepoStateError), "state = 'resyncing' WHERE did = (SELECT did FROM "+
		"repos WHERE state = 'error' AND (retry_after = 0 OR retry_after <= $1) LIMIT 1 FOR UPDATE SKIP LOCKED) "+
		"AND state = 'error' RETURNING")
	require.Contains(t, claimSQL(DialectSQLite, RepoStatePending), "retry_after <= ?) LIMIT 1) AND state = 'pending' RETURNING")
	require.Contains(t, indexPageSQL(DialectSQLite), "WHERE did = ? AND collection || '/' || rkey > ? ")
	require.Contains(t, indexPageSQL(DialectPostgres), `WHERE did = $1 AND (collection || '/' || rkey) COLLATE "C" > $2 `)
}
