package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
)

// seedRepo stores repo with every field as given.
func seedRepo(t *testing.T, db *store.DB, repo store.Repo) {
	t.Helper()
	_, err := db.Bun().NewInsert().Model(&repo).Exec(t.Context())
	require.NoError(t, err)
}

// seedRecords indexes n records of did.
func seedRecords(t *testing.T, db *store.DB, did string, n int) {
	t.Helper()
	rows := make([]store.RepoRecord, n)
	for i := range rows {
		rows[i] = store.RepoRecord{DID: did, Collection: "app.bsky.feed.post",
			RKey: fmt.Sprintf("rkey%d", i), CID: "bafyreiexample"}
	}
	_, err := db.Bun().NewInsert().Model(&rows).Exec(t.Context())
	require.NoError(t, err)
}

// seedResyncBuffer buffers n commits of did.
func seedResyncBuffer(t *testing.T, db *store.DB, did string, n int) {
	t.Helper()
	for range n {
		_, err := db.Bun().NewInsert().Model(&store.ResyncBuffer{DID: did, Data: "{}"}).Exec(t.Context())
		require.NoError(t, err)
	}
}

// seedOutbox queues n events after those already queued.
func seedOutbox(t *testing.T, db *store.DB, n int) {
	t.Helper()
	first, err := db.CountOutbox(t.Context())
	require.NoError(t, err)
	rows := make([]store.OutboxBuffer, n)
	for i := range rows {
		rows[i] = store.OutboxBuffer{ID: first + int64(i) + 1, DID: "did:plc:aaa", Data: "{}"}
	}
	_, err = db.Bun().NewInsert().Model(&rows).Exec(t.Context())
	require.NoError(t, err)
}

// seedCursors saves a firehose cursor, a listRepos cursor and a collection cursor for relay.
func seedCursors(t *testing.T, db *store.DB, relay string, seq int64, listRepos, collection, collCursor string) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, db.SaveFirehoseCursor(ctx, relay, seq))
	require.NoError(t, db.SaveListReposCursor(ctx, relay, listRepos))
	require.NoError(t, db.SaveCollectionCursor(ctx, relay, collection, collCursor))
}
