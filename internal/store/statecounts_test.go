package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestCountReposByState(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		got, err := db.CountReposByState(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[store.RepoState]int64{
			store.RepoStatePending: 0, store.RepoStateResyncing: 0, store.RepoStateActive: 0,
			store.RepoStateDesynchronized: 0, store.RepoStateError: 0,
		}, got, "every state is present on an empty database")

		ds := dids("st", 6)
		states := []store.RepoState{store.RepoStatePending, store.RepoStatePending, store.RepoStateActive,
			store.RepoStateActive, store.RepoStateActive, store.RepoStateError}
		rows := make([]store.Repo, len(ds))
		for i, d := range ds {
			rows[i] = store.Repo{DID: d, State: states[i], Status: store.AccountStatusActive}
		}
		insert(t, db, &rows)
		got, err = db.CountReposByState(t.Context())
		require.NoError(t, err)
		require.Equal(t, map[store.RepoState]int64{
			store.RepoStatePending: 2, store.RepoStateResyncing: 0, store.RepoStateActive: 3,
			store.RepoStateDesynchronized: 0, store.RepoStateError: 1,
		}, got)
	})
}
