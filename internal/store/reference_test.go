package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// referenceRows is data as the reference Tap writes it, including the NULLs gorm leaves in
// handle, rev, prev_data and error_msg.
const referenceRows = `
INSERT INTO repos (did, state, status, handle, rev, prev_data, error_msg, retry_count, retry_after) VALUES
	('did:plc:nulls', 'pending', 'active', NULL, NULL, NULL, NULL, 0, 0),
	('did:plc:full', 'active', 'active', 'alice.test', '3lrev', 'bafyprev', '', 0, 0),
	('did:plc:err', 'error', 'deactivated', 'bob.test', NULL, NULL, 'fetch failed', 3, 1700000000),
	('did:plc:resync', 'resyncing', 'active', NULL, NULL, NULL, NULL, 0, 0);
INSERT INTO repo_records (did, collection, rkey, cid) VALUES
	('did:plc:full', 'app.bsky.feed.post', '3k1', 'bafyrec1'),
	('did:plc:full', 'app.bsky.feed.post', '3k2', 'bafyrec2'),
	('did:plc:err', 'app.bsky.feed.like', '3k3', 'bafyrec3');
INSERT INTO outbox_buffers (id, did, live, data) VALUES (7, 'did:plc:full', true, '{"id":7}');
INSERT INTO resync_buffers (did, data) VALUES ('did:plc:resync', '{}'), ('did:plc:full', '{}');
INSERT INTO firehose_cursors (url, cursor) VALUES ('https://relay.test', 12345);
INSERT INTO list_repos_cursors (url, cursor) VALUES ('https://relay.test', 'lrc');
INSERT INTO collection_cursors (url, collection, cursor) VALUES ('https://relay.test', 'app.bsky.feed.post', 'cc');
`

// TestReferenceDatabase applies the schema the reference Tap creates (testdata, dumped from
// the real binary) plus rows as it writes them, then opens the database with Open: the
// migrations must leave the data alone and every query must work on it.
func TestReferenceDatabase(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, u string) {
		createReferenceDB(t, u)
		db := storetest.Open(t, u)
		requireReferenceDDLKept(t, db)
		checkReferenceRows(t, db)
		checkQueriesOnReference(t, db)
		require.Equal(t, store.MigrationNames(), appliedMigrations(t, db))
		requireSchema(t, db)
		require.NoError(t, db.Close())

		db = storetest.Open(t, u) // and again: nothing left to migrate
		requireTotal(t, 4, db.CountRepos)
	})
}

// createReferenceDB applies testdata/reference_<dialect>.sql and referenceRows to the empty
// database at u, over a connection of its own (the Postgres dump clears search_path).
func createReferenceDB(t *testing.T, u string) {
	t.Helper()
	driver, dsn, file := "sqlite3", strings.TrimPrefix(u, "sqlite://"), "reference_sqlite.sql"
	if strings.HasPrefix(u, "postgres") {
		driver, dsn, file = "pgx", u, "reference_postgres.sql"
	}
	ddl, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(t, err)
	raw, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	defer raw.Close()
	ctx := context.Background()
	conn, err := raw.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, string(ddl))
	require.NoError(t, err, "apply %s", file)
	if driver == "pgx" {
		_, err = conn.ExecContext(ctx, "RESET search_path")
		require.NoError(t, err)
	}
	_, err = conn.ExecContext(ctx, referenceRows)
	require.NoError(t, err)
}

// requireReferenceDDLKept checks that migration 0001 left the reference's own tables as they
// were: its outbox id keeps the auto-assignment our DDL does not have.
func requireReferenceDDLKept(t *testing.T, db *store.DB) {
	t.Helper()
	q := `SELECT sql FROM sqlite_master WHERE name = 'outbox_buffers'`
	want := "AUTOINCREMENT"
	if db.Dialect() == store.DialectPostgres {
		q = `SELECT column_default FROM information_schema.columns
			WHERE table_name = 'outbox_buffers' AND column_name = 'id'`
		want = "nextval('outbox_buffers_id_seq'"
	}
	var ddl string
	require.NoError(t, db.Bun().NewRaw(q).Scan(t.Context(), &ddl))
	require.Contains(t, ddl, want)
}

// checkReferenceRows reads the reference's rows back.
func checkReferenceRows(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := t.Context()
	repos, err := db.ListRepos(ctx, store.ListReposQuery{})
	require.NoError(t, err)
	require.Equal(t, []store.Repo{
		{DID: "did:plc:err", State: store.RepoStateError, Status: store.AccountStatusDeactivated,
			Handle: "bob.test", ErrorMsg: "fetch failed", RetryCount: 3, RetryAfter: 1700000000},
		{DID: "did:plc:full", State: store.RepoStateActive, Status: store.AccountStatusActive,
			Handle: "alice.test", Rev: "3lrev", PrevData: "bafyprev"},
		{DID: "did:plc:nulls", State: store.RepoStatePending, Status: store.AccountStatusActive},
		{DID: "did:plc:resync", State: store.RepoStateResyncing, Status: store.AccountStatusActive},
	}, repos)

	repo, err := db.GetRepo(ctx, "did:plc:nulls")
	require.NoError(t, err)
	require.Equal(t, store.Repo{DID: "did:plc:nulls", State: store.RepoStatePending, Status: store.AccountStatusActive}, repo)

	var ob store.OutboxBuffer
	require.NoError(t, db.Bun().NewSelect().Model(&ob).Where("id = ?", 7).Scan(ctx))
	require.Equal(t, store.OutboxBuffer{ID: 7, DID: "did:plc:full", Live: true, Data: `{"id":7}`}, ob)

	requireTotal(t, 4, db.CountRepos)
	requireTotal(t, 3, db.CountRecords)
	requireTotal(t, 1, db.CountOutbox)
	requireTotal(t, 2, db.CountResyncBuffer)
	requireCount(t, 2, db.CountRecordsForDID, "did:plc:full")

	seq, err := db.GetFirehoseCursor(ctx, relay)
	require.NoError(t, err)
	require.EqualValues(t, 12345, seq)
	c, err := db.GetListReposCursor(ctx, relay)
	require.NoError(t, err)
	require.Equal(t, "lrc", c)
	c, err = db.GetCollectionCursor(ctx, relay, "app.bsky.feed.post")
	require.NoError(t, err)
	require.Equal(t, "cc", c)
}

// checkQueriesOnReference runs every write query against the reference's tables.
func checkQueriesOnReference(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := t.Context()
	n, err := db.ResetResyncing(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	n, err = db.AddRepos(ctx, []string{"did:plc:full", "did:plc:new"})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	insert(t, db, &store.OutboxBuffer{ID: 8, DID: "did:plc:new", Data: "{}"})
	seedResync(t, db, "did:plc:new", 1) // ids from the reference's own sequence/AUTOINCREMENT

	require.NoError(t, db.RemoveRepos(ctx, []string{"did:plc:full"}))
	requireTotal(t, 4, db.CountRepos)
	requireTotal(t, 1, db.CountRecords)
	requireTotal(t, 2, db.CountOutbox)
	requireTotal(t, 2, db.CountResyncBuffer)

	page, err := db.ListRepos(ctx, store.ListReposQuery{State: store.RepoStatePending, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"did:plc:new"}, repoDIDs(page))

	require.NoError(t, db.SaveFirehoseCursor(ctx, relay, 12346))
	require.NoError(t, db.SaveListReposCursor(ctx, relay, "lrc2"))
	require.NoError(t, db.SaveCollectionCursor(ctx, relay, "app.bsky.feed.post", "cc2"))
	seq, err := db.GetFirehoseCursor(ctx, relay)
	require.NoError(t, err)
	require.EqualValues(t, 12346, seq)

	require.NoError(t, db.SetMeta(ctx, "k", "v"))
	v, ok, err := db.GetMeta(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v", v)
}
