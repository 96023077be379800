package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

const relay = "https://relay.test"

func TestFirehoseCursor(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		seq, err := db.GetFirehoseCursor(ctx, relay)
		require.NoError(t, err)
		require.Zero(t, seq, "no row reads as 0")

		require.NoError(t, db.SaveFirehoseCursor(ctx, relay, 42))
		require.NoError(t, db.SaveFirehoseCursor(ctx, relay, 1<<40))
		require.NoError(t, db.SaveFirehoseCursor(ctx, "https://other.test", 7))

		seq, err = db.GetFirehoseCursor(ctx, relay)
		require.NoError(t, err)
		require.EqualValues(t, 1<<40, seq, "upsert replaces the cursor")
		seq, err = db.GetFirehoseCursor(ctx, "https://other.test")
		require.NoError(t, err)
		require.EqualValues(t, 7, seq, "cursors are keyed by relay URL")
	})
}

func TestListReposCursor(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		c, err := db.GetListReposCursor(ctx, relay)
		require.NoError(t, err)
		require.Empty(t, c)

		require.NoError(t, db.SaveListReposCursor(ctx, relay, "page1"))
		require.NoError(t, db.SaveListReposCursor(ctx, relay, "page2"))
		c, err = db.GetListReposCursor(ctx, relay)
		require.NoError(t, err)
		require.Equal(t, "page2", c)
	})
}

func TestCollectionCursor(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		c, err := db.GetCollectionCursor(ctx, relay, "app.bsky.feed.post")
		require.NoError(t, err)
		require.Empty(t, c)

		require.NoError(t, db.SaveCollectionCursor(ctx, relay, "app.bsky.feed.post", "a"))
		require.NoError(t, db.SaveCollectionCursor(ctx, relay, "app.bsky.feed.post", "b"))
		require.NoError(t, db.SaveCollectionCursor(ctx, relay, "app.bsky.feed.like", "x"))

		c, err = db.GetCollectionCursor(ctx, relay, "app.bsky.feed.post")
		require.NoError(t, err)
		require.Equal(t, "b", c)
		c, err = db.GetCollectionCursor(ctx, relay, "app.bsky.feed.like")
		require.NoError(t, err)
		require.Equal(t, "x", c)
	})
}

func TestMeta(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		v, ok, err := db.GetMeta(ctx, "event_id_high_water")
		require.NoError(t, err)
		require.False(t, ok)
		require.Empty(t, v)

		require.NoError(t, db.SetMeta(ctx, "event_id_high_water", "100"))
		require.NoError(t, db.SetMeta(ctx, "event_id_high_water", "200"))
		require.NoError(t, db.SetMeta(ctx, "empty", ""))

		v, ok, err = db.GetMeta(ctx, "event_id_high_water")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "200", v)
		v, ok, err = db.GetMeta(ctx, "empty")
		require.NoError(t, err)
		require.True(t, ok, "an empty value is still a value")
		require.Empty(t, v)
	})
}
