package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestOverrides(t *testing.T) {
	storetest.ForEachURL(t, func(t *testing.T, url string) {
		ctx := t.Context()
		db := storetest.Open(t, url)
		_, ok, err := db.GetOverride(ctx, "collection_filters")
		require.NoError(t, err)
		require.False(t, ok, "nothing set yet")

		require.NoError(t, db.SetOverride(ctx, "collection_filters", []string{"app.bsky.feed.*", "com.example.x"}))
		require.NoError(t, db.SetOverride(ctx, "signal_collections", nil))
		list, ok, err := db.GetOverride(ctx, "signal_collections")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, []string{}, list, "an empty list is a value, not the absence of one")

		// Persisted: a second handle on the same database reads it.
		require.NoError(t, db.Close())
		db = storetest.Open(t, url)
		list, ok, err = db.GetOverride(ctx, "collection_filters")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, []string{"app.bsky.feed.*", "com.example.x"}, list)

		require.NoError(t, db.SetOverride(ctx, "collection_filters", []string{"*"}))
		list, _, err = db.GetOverride(ctx, "collection_filters")
		require.NoError(t, err)
		require.Equal(t, []string{"*"}, list, "set replaces")

		require.NoError(t, db.DeleteOverride(ctx, "collection_filters"))
		require.NoError(t, db.DeleteOverride(ctx, "collection_filters"), "deleting twice is a no-op")
		_, ok, err = db.GetOverride(ctx, "collection_filters")
		require.NoError(t, err)
		require.False(t, ok)
		_, ok, err = db.GetOverride(ctx, "signal_collections")
		require.NoError(t, err)
		require.True(t, ok, "other overrides are untouched")
	})
}

func TestOverrideCorrupt(t *testing.T) {
	db := storetest.OpenSQLite(t)
	require.NoError(t, db.SetMeta(t.Context(), "override.collection_filters", `{"not":"a list"}`))
	_, _, err := db.GetOverride(t.Context(), "collection_filters")
	require.ErrorContains(t, err, `override "collection_filters": stored value`)
}

func TestRequestResync(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		for did, st := range map[string]store.RepoState{
			"did:plc:active": store.RepoStateActive, "did:plc:pending": store.RepoStatePending,
			"did:plc:error": store.RepoStateError, "did:plc:resyncing": store.RepoStateResyncing,
		} {
			r := &store.Repo{DID: did, State: st, Status: store.AccountStatusActive}
			if st != store.RepoStatePending {
				r.ErrorMsg, r.RetryAfter = "old", 1<<40 // a far-off retry the request clears
			}
			insert(t, db, r)
		}
		queued, unknown, err := db.RequestResync(ctx, []string{
			"did:plc:active", "did:plc:nobody", "did:plc:pending", "did:plc:error", "did:plc:active", "did:plc:resyncing",
		})
		require.NoError(t, err)
		require.Equal(t, []string{"did:plc:active", "did:plc:pending", "did:plc:error", "did:plc:resyncing"}, queued)
		require.Equal(t, []string{"did:plc:nobody"}, unknown)
		for did, want := range map[string]store.RepoState{
			"did:plc:active": store.RepoStateDesynchronized, "did:plc:pending": store.RepoStatePending,
			"did:plc:error": store.RepoStateDesynchronized, "did:plc:resyncing": store.RepoStateDesynchronized,
		} {
			r, err := db.GetRepo(ctx, did)
			require.NoError(t, err)
			require.Equal(t, want, r.State, did)
			if want == store.RepoStateDesynchronized {
				require.Equal(t, "resync requested", r.ErrorMsg, did)
				require.Zero(t, r.RetryAfter, "claimable at once: %s", did)
			}
		}
		_, err = db.GetRepo(ctx, "did:plc:nobody")
		require.ErrorIs(t, err, store.ErrNotFound, "an unknown DID is not tracked by a resync request")

		// The claim order picks the pending repo first, then the requested ones.
		r, ok, err := db.ClaimResync(ctx, time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "did:plc:pending", r.DID)
		r, ok, err = db.ClaimResync(ctx, time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, store.RepoStateResyncing, r.State)

		queued, unknown, err = db.RequestResync(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, queued)
		require.Empty(t, unknown)
	})
}
