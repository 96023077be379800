package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestAddRepos(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		n, err := db.AddRepos(ctx, nil)
		require.NoError(t, err)
		require.Zero(t, n, "empty list is a no-op")

		n, err = db.AddRepos(ctx, []string{"did:plc:a", "did:plc:b", "did:plc:a"})
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "a DID repeated in one call is inserted once")

		repo, err := db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, store.Repo{DID: "did:plc:a", State: store.RepoStatePending, Status: store.AccountStatusActive}, repo)
	})
}

func TestAddReposLeavesExistingUntouched(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		existing := store.Repo{DID: "did:plc:a", State: store.RepoStateActive, Status: store.AccountStatusDeactivated,
			Handle: "alice.test", Rev: "3laaa", PrevData: "bafyprev", RetryCount: 2, RetryAfter: 1700000000}
		insert(t, db, &existing)

		n, err := db.AddRepos(ctx, []string{"did:plc:a", "did:plc:b"})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)

		got, err := db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, existing.DID, got.DID)
		require.Equal(t, existing.State, got.State, "re-adding must not trigger a resync")
		require.Equal(t, existing.Handle, got.Handle)
		require.Equal(t, existing.Rev, got.Rev)
		require.Equal(t, existing.RetryAfter, got.RetryAfter)
	})
}

func TestAddReposLarge(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		all := dids("big", 100_000)
		n, err := db.AddRepos(ctx, all)
		require.NoError(t, err)
		require.EqualValues(t, len(all), n)

		n, err = db.AddRepos(ctx, all[:1234])
		require.NoError(t, err)
		require.Zero(t, n)

		count, err := db.CountRepos(ctx)
		require.NoError(t, err)
		require.EqualValues(t, len(all), count)
	})
}

func TestRemoveRepos(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		_, err := db.AddRepos(ctx, []string{"did:plc:gone", "did:plc:kept"})
		require.NoError(t, err)
		for i, did := range []string{"did:plc:gone", "did:plc:kept"} {
			seedRecords(t, db, did, 3)
			seedResync(t, db, did, 2)
			insert(t, db, &store.OutboxBuffer{ID: int64(i + 1), DID: did, Live: true, Data: "{}"})
		}

		require.NoError(t, db.RemoveRepos(ctx, []string{"did:plc:gone", "did:plc:unknown"}))
		require.NoError(t, db.RemoveRepos(ctx, nil))

		_, err = db.GetRepo(ctx, "did:plc:gone")
		require.ErrorIs(t, err, store.ErrNotFound)
		requireCount(t, 0, db.CountRecordsForDID, "did:plc:gone")
		requireCount(t, 3, db.CountRecordsForDID, "did:plc:kept")
		requireTotal(t, 1, db.CountRepos)
		requireTotal(t, 3, db.CountRecords)
		requireTotal(t, 2, db.CountResyncBuffer)
		requireTotal(t, 2, db.CountOutbox) // outbox rows of removed repos are still delivered
	})
}

func TestRemoveReposLarge(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		all := dids("rm", 5_000)
		_, err := db.AddRepos(ctx, all)
		require.NoError(t, err)
		require.NoError(t, db.RemoveRepos(ctx, all[:4_999]))
		requireTotal(t, 1, db.CountRepos)
	})
}

func TestGetRepoNotFound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		_, err := db.GetRepo(t.Context(), "did:plc:nobody")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestListRepos(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		all := dids("l", 10)
		_, err := db.AddRepos(ctx, []string{all[9], all[3], all[0], all[5], all[1]})
		require.NoError(t, err)
		for _, did := range []string{all[2], all[4], all[6], all[7], all[8]} {
			insert(t, db, &store.Repo{DID: did, State: store.RepoStateActive, Status: store.AccountStatusActive})
		}

		got, err := db.ListRepos(ctx, store.ListReposQuery{})
		require.NoError(t, err)
		require.Equal(t, all, repoDIDs(got), "all repos, ordered by DID")

		active := []string{all[2], all[4], all[6], all[7], all[8]}
		require.Equal(t, active, pageAll(t, db, store.ListReposQuery{State: store.RepoStateActive, Limit: 2}))
		require.Equal(t, all, pageAll(t, db, store.ListReposQuery{Limit: 3}))

		got, err = db.ListRepos(ctx, store.ListReposQuery{State: store.RepoStateError})
		require.NoError(t, err)
		require.Empty(t, got)
		require.NotNil(t, got, "an empty page is an empty slice")
	})
}

// pageAll pages through ListRepos with q and returns every DID seen.
func pageAll(t *testing.T, db *store.DB, q store.ListReposQuery) []string {
	t.Helper()
	var out []string
	for {
		page, err := db.ListRepos(t.Context(), q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), q.Limit)
		for _, r := range page {
			if q.State != "" {
				require.Equal(t, q.State, r.State)
			}
		}
		out = append(out, repoDIDs(page)...)
		if len(page) < q.Limit {
			return out
		}
		q.After = page[len(page)-1].DID
	}
}

func repoDIDs(repos []store.Repo) []string {
	out := make([]string, len(repos))
	for i, r := range repos {
		out[i] = r.DID
	}
	return out
}

func TestResetResyncing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		for did, st := range map[string]store.RepoState{
			"did:plc:r1": store.RepoStateResyncing, "did:plc:r2": store.RepoStateResyncing,
			"did:plc:ac": store.RepoStateActive, "did:plc:pe": store.RepoStatePending,
		} {
			insert(t, db, &store.Repo{DID: did, State: st, Status: store.AccountStatusActive})
		}
		n, err := db.ResetResyncing(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, n)

		desync, err := db.ListRepos(ctx, store.ListReposQuery{State: store.RepoStateDesynchronized})
		require.NoError(t, err)
		require.Equal(t, []string{"did:plc:r1", "did:plc:r2"}, repoDIDs(desync))

		n, err = db.ResetResyncing(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

func TestCounts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		requireTotal(t, 0, db.CountRepos)
		requireTotal(t, 0, db.CountRecords)
		requireTotal(t, 0, db.CountOutbox)
		requireTotal(t, 0, db.CountResyncBuffer)
		requireCount(t, 0, db.CountRecordsForDID, "did:plc:a")

		_, err := db.AddRepos(t.Context(), []string{"did:plc:a", "did:plc:b"})
		require.NoError(t, err)
		seedRecords(t, db, "did:plc:a", 4)
		seedRecords(t, db, "did:plc:b", 1)
		seedResync(t, db, "did:plc:a", 3)
		insert(t, db, &[]store.OutboxBuffer{{ID: 1, DID: "did:plc:a", Data: "{}"}, {ID: 2, DID: "did:plc:b", Live: true, Data: "{}"}})

		requireTotal(t, 2, db.CountRepos)
		requireTotal(t, 5, db.CountRecords)
		requireTotal(t, 2, db.CountOutbox)
		requireTotal(t, 3, db.CountResyncBuffer)
		requireCount(t, 4, db.CountRecordsForDID, "did:plc:a")
	})
}

func TestParseRepoState(t *testing.T) {
	for _, st := range []store.RepoState{store.RepoStatePending, store.RepoStateResyncing,
		store.RepoStateActive, store.RepoStateDesynchronized, store.RepoStateError} {
		got, err := store.ParseRepoState(string(st))
		require.NoError(t, err)
		require.Equal(t, st, got)
	}
	for _, bad := range []string{"", "Active", "takendown", "bogus"} {
		_, err := store.ParseRepoState(bad)
		require.ErrorContains(t, err, "invalid repo state")
	}
}

func requireTotal(t *testing.T, want int64, count func(context.Context) (int64, error)) {
	t.Helper()
	n, err := count(t.Context())
	require.NoError(t, err)
	require.Equal(t, want, n)
}

func requireCount(t *testing.T, want int64, count func(context.Context, string) (int64, error), did string) {
	t.Helper()
	n, err := count(t.Context(), did)
	require.NoError(t, err)
	require.Equal(t, want, n)
}
