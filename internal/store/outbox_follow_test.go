package store_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestListOutboxIDsAndGetOutbox(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		var rows []store.OutboxBuffer
		for _, id := range []int64{3, 1001, 1, 2, 700} { // ids need not be dense nor inserted in order
			rows = append(rows, store.OutboxBuffer{ID: id, DID: "did:plc:a", Live: id%2 == 0, Data: fmt.Sprint(id)})
		}
		insert(t, db, &rows)

		ids, err := db.ListOutboxIDs(ctx, 0)
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2, 3, 700, 1001}, ids)
		ids, err = db.ListOutboxIDs(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2}, ids)

		got, err := db.GetOutbox(ctx, []int64{1001, 2, 5}) // 5 has no row
		require.NoError(t, err)
		require.Equal(t, []store.OutboxBuffer{rows[3], rows[1]}, got, "in id order")

		many := make([]int64, 1200) // more than one statement's worth
		for i := range many {
			many[i] = int64(1200 - i)
		}
		got, err = db.GetOutbox(ctx, many)
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2, 3, 700, 1001}, idsOfRows(got))

		empty, err := db.GetOutbox(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, empty)
	})
}

func idsOfRows(rows []store.OutboxBuffer) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}
