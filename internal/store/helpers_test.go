package store_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
)

// dids returns n DIDs did:plc:<prefix>00000 ... in ascending order.
func dids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("did:plc:%s%05d", prefix, i)
	}
	return out
}

// insert writes rows (a pointer to a model or a slice of models) as they are.
func insert(t testing.TB, db *store.DB, rows any) {
	t.Helper()
	_, err := db.Bun().NewInsert().Model(rows).Exec(t.Context())
	require.NoError(t, err)
}

// seedRecords indexes n records of did in app.bsky.feed.post.
func seedRecords(t testing.TB, db *store.DB, did string, n int) {
	t.Helper()
	rows := make([]store.RepoRecord, n)
	for i := range rows {
		rows[i] = store.RepoRecord{DID: did, Collection: "app.bsky.feed.post", RKey: fmt.Sprintf("r%05d", i), CID: "bafy" + did}
	}
	insert(t, db, &rows)
}

// seedResync buffers n commits of did.
func seedResync(t testing.TB, db *store.DB, did string, n int) {
	t.Helper()
	for range n {
		insert(t, db, &store.ResyncBuffer{DID: did, Data: `{"did":"` + did + `"}`})
	}
}
