package store_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestNextOutboxID(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		next, err := db.NextOutboxID(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, next, "a fresh database starts at 1")

		// A reference Tap database: rows, no high-water mark.
		insert(t, db, &store.OutboxBuffer{ID: 7, DID: "did:plc:a", Live: true, Data: `{"id":7}`})
		next, err = db.NextOutboxID(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 8, next, "continues above the highest stored id")

		require.NoError(t, db.SetMeta(ctx, store.OutboxNextIDKey, "500"))
		next, err = db.NextOutboxID(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 500, next, "the high-water mark wins when higher")

		insert(t, db, &store.OutboxBuffer{ID: 900, DID: "did:plc:a", Data: `{"id":900}`})
		next, err = db.NextOutboxID(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 901, next, "a stored id wins when higher")

		require.NoError(t, db.SetMeta(ctx, store.OutboxNextIDKey, "garbage"))
		_, err = db.NextOutboxID(ctx)
		require.ErrorContains(t, err, "not an event id")
	})
}

func TestListAndDeleteOutbox(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		rows := make([]store.OutboxBuffer, 0, 1200)
		for i := range 1200 {
			rows = append(rows, store.OutboxBuffer{ID: int64(i + 1), DID: "did:plc:a", Live: i%2 == 0, Data: fmt.Sprint(i + 1)})
		}
		insert(t, db, &rows)

		page, err := db.ListOutbox(ctx, 0, 3)
		require.NoError(t, err)
		require.Equal(t, rows[:3], page)
		page, err = db.ListOutbox(ctx, 1198, 10)
		require.NoError(t, err)
		require.Equal(t, rows[1198:], page)
		all, err := db.ListOutbox(ctx, 0, 0)
		require.NoError(t, err)
		require.Len(t, all, 1200)

		ids := make([]int64, 0, 1101)
		for i := range int64(1100) {
			ids = append(ids, i+1)
		}
		ids = append(ids, 99999) // unknown ids are ignored
		n, err := db.DeleteOutbox(ctx, ids)
		require.NoError(t, err)
		require.EqualValues(t, 1100, n)
		n, err = db.DeleteOutbox(ctx, nil)
		require.NoError(t, err)
		require.Zero(t, n)
		left, err := db.ListOutbox(ctx, 0, 0)
		require.NoError(t, err)
		require.Equal(t, rows[1100:], left)
	})
}

// TestOutboxIDsNeverReused restarts the allocator (a new OutboxIDs, as after a process
// restart) with an empty outbox: ids continue above everything handed out before.
func TestOutboxIDsNeverReused(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a")
		var seen []int64
		for restart := range 3 {
			ids, err := db.NewOutboxIDs(ctx, 10)
			require.NoError(t, err)
			for range 6 { // 12 ids: more than one block
				res := commit(t, db, ids, identityWrite("did:plc:a", "a.test"), identityWrite("did:plc:a", "b.test"))
				for _, o := range res.Outcomes {
					for _, row := range o.Outbox {
						seen = append(seen, row.ID)
					}
				}
			}
			_, err = db.DeleteOutbox(ctx, seen) // every event acked: the outbox is empty
			require.NoError(t, err)
			mark, ok, err := db.GetMeta(ctx, store.OutboxNextIDKey)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, fmt.Sprint(int64(restart+1)*20+1), mark, "two blocks of 10 reserved per run")
		}
		requireIncreasing(t, seen)
		require.EqualValues(t, 1, seen[0])
		require.EqualValues(t, 52, seen[len(seen)-1], "each restart skips the rest of its block")
	})
}

// TestOutboxIDsTwoProcesses gives two allocators (two tap processes) one database: their
// blocks never overlap.
func TestOutboxIDsTwoProcesses(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a")
		a, err := db.NewOutboxIDs(ctx, 5)
		require.NoError(t, err)
		b, err := db.NewOutboxIDs(ctx, 5)
		require.NoError(t, err)
		got := map[int64]bool{}
		for i := range 20 {
			ids := a
			if i%3 == 0 {
				ids = b
			}
			res := commit(t, db, ids, identityWrite("did:plc:a", "a.test"))
			id := res.Outcomes[0].Outbox[0].ID
			require.False(t, got[id], "id %d handed out twice", id)
			got[id] = true
		}
	})
}

func requireIncreasing(t *testing.T, ids []int64) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		require.Greater(t, ids[i], ids[i-1], "ids %v", ids)
	}
}
