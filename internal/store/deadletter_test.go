package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestDeadLettersRoundTrip(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		before := time.Now().Add(-time.Second)
		require.NoError(t, db.AddDeadLetters(ctx, nil))
		require.NoError(t, db.AddDeadLetters(ctx, []store.DeadLetter{
			{ID: 7, DID: "did:plc:b", Data: `{"id":7}`, Attempts: 3, LastError: "HTTP 500: boom"},
			{ID: 1<<53 - 1, DID: "did:plc:a", Data: `{"id":9007199254740991}`, Attempts: 1, LastError: "EOF"},
		}))
		rows, err := db.ListDeadLetters(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		assert.Equal(t, int64(7), rows[0].ID)
		assert.Equal(t, "did:plc:b", rows[0].DID)
		assert.Equal(t, `{"id":7}`, rows[0].Data)
		assert.Equal(t, 3, rows[0].Attempts)
		assert.Equal(t, "HTTP 500: boom", rows[0].LastError)
		assert.WithinRange(t, rows[0].CreatedAt, before, time.Now().Add(time.Second))
		assert.Equal(t, int64(1<<53-1), rows[1].ID)

		rows, err = db.ListDeadLetters(ctx, 7, 10)
		require.NoError(t, err)
		require.Len(t, rows, 1, "paging starts after the given id")
	})
}

// TestDeadLettersUpsert: an event dead-lettered again (redelivered after a restart) keeps
// its first created_at and takes the newest attempts and error.
func TestDeadLettersUpsert(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		require.NoError(t, db.AddDeadLetters(ctx, []store.DeadLetter{
			{ID: 1, DID: "did:plc:a", Data: "{}", Attempts: 2, LastError: "old", CreatedAt: first},
		}))
		require.NoError(t, db.AddDeadLetters(ctx, []store.DeadLetter{
			{ID: 1, DID: "did:plc:a", Data: "{}", Attempts: 5, LastError: "new"},
		}))
		rows, err := db.ListDeadLetters(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		assert.Equal(t, 5, rows[0].Attempts)
		assert.Equal(t, "new", rows[0].LastError)
		assert.True(t, first.Equal(rows[0].CreatedAt), "created_at %v, want %v", rows[0].CreatedAt, first)
	})
}

// TestDeadLettersManyRows crosses the per-INSERT row bound.
func TestDeadLettersManyRows(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		rows := make([]store.DeadLetter, 2500)
		for i := range rows {
			rows[i] = store.DeadLetter{ID: int64(i + 1), DID: fmt.Sprintf("did:plc:%d", i), Data: "{}", Attempts: 1, LastError: "x"}
		}
		require.NoError(t, db.AddDeadLetters(t.Context(), rows))
		got, err := db.ListDeadLetters(t.Context(), 0, 5000)
		require.NoError(t, err)
		assert.Len(t, got, 2500)
	})
}
