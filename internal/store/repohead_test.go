package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestGetRepoHead(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		insert(t, db, &store.Repo{DID: "did:plc:full", State: store.RepoStateActive, Status: store.AccountStatusDeactivated,
			Handle: "alice.test", Rev: "3laaa", PrevData: "bafyprev", ErrorMsg: "old", RetryCount: 2, RetryAfter: 1700000000})
		addRepos(t, db, "did:plc:new")

		head, err := db.GetRepoHead(ctx, "did:plc:full")
		require.NoError(t, err)
		require.Equal(t, store.RepoHead{State: store.RepoStateActive, Status: store.AccountStatusDeactivated, Handle: "alice.test", Rev: "3laaa", PrevData: "bafyprev"}, head)
		requireHeadOfRepo(t, db, "did:plc:full")

		head, err = db.GetRepoHead(ctx, "did:plc:new")
		require.NoError(t, err)
		require.Equal(t, store.RepoHead{State: store.RepoStatePending, Status: store.AccountStatusActive}, head)
		requireHeadOfRepo(t, db, "did:plc:new")

		_, err = db.GetRepoHead(ctx, "did:plc:nobody")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// TestGetRepoHeadNulls reads a row as the reference Tap writes it: NULL handle, rev and
// prev_data read as "".
func TestGetRepoHeadNulls(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		_, err := db.Bun().ExecContext(t.Context(),
			`INSERT INTO repos (did, state, status, handle, rev, prev_data, error_msg) VALUES (?, 'active', 'active', NULL, NULL, NULL, NULL)`,
			"did:plc:ref")
		require.NoError(t, err)
		head, err := db.GetRepoHead(t.Context(), "did:plc:ref")
		require.NoError(t, err)
		require.Equal(t, store.RepoHead{State: store.RepoStateActive, Status: store.AccountStatusActive}, head)
		requireHeadOfRepo(t, db, "did:plc:ref")
	})
}

// TestGetRepoHeadFollowsWrites checks that the read is never stale: each write of the order
// stage's batch commit (rev and prevData, then the identity) is seen by the next read.
func TestGetRepoHeadFollowsWrites(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		addRepos(t, db, "did:plc:a")
		ids := newIDs(t, db)
		for i := range 3 {
			rev := &store.RepoRev{Rev: fmt.Sprintf("rev%d", i), PrevData: fmt.Sprintf("data%d", i)}
			commit(t, db, ids, store.EventWrite{DID: "did:plc:a", Rev: rev})
			head, err := db.GetRepoHead(ctx, "did:plc:a")
			require.NoError(t, err)
			require.Equal(t, store.RepoHead{State: store.RepoStatePending, Status: store.AccountStatusActive, Rev: rev.Rev, PrevData: rev.PrevData}, head)
		}
		commit(t, db, ids, identityWrite("did:plc:a", "a.test"))
		head, err := db.GetRepoHead(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, store.RepoHead{State: store.RepoStatePending, Status: store.AccountStatusActive, Handle: "a.test", Rev: "rev2", PrevData: "data2"}, head)

		require.NoError(t, db.RemoveRepos(ctx, []string{"did:plc:a"}))
		_, err = db.GetRepoHead(ctx, "did:plc:a")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// TestGetRepoHeadConcurrent runs the prepared statement on many pooled connections at once.
func TestGetRepoHeadConcurrent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		all := dids("head", 50)
		addRepos(t, db, all...)
		var wg sync.WaitGroup
		errs := make(chan error, len(all))
		for _, did := range all {
			wg.Go(func() {
				for range 20 {
					head, err := db.GetRepoHead(t.Context(), did)
					if err == nil && head.Status != store.AccountStatusActive {
						err = fmt.Errorf("%s: status %q", did, head.Status)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})
}

// requireHeadOfRepo checks that GetRepoHead agrees with GetRepo on did.
func requireHeadOfRepo(t *testing.T, db *store.DB, did string) {
	t.Helper()
	r, err := db.GetRepo(t.Context(), did)
	require.NoError(t, err)
	head, err := db.GetRepoHead(t.Context(), did)
	require.NoError(t, err)
	require.Equal(t, store.RepoHead{State: r.State, Status: r.Status, Handle: r.Handle, Rev: r.Rev, PrevData: r.PrevData}, head)
}

// TestGetRepoHeadMemo: within WithRepoHead's context the memo answers for its DID only.
func TestGetRepoHeadMemo(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		addRepos(t, db, "did:plc:a", "did:plc:b")
		memo := store.RepoHead{State: store.RepoStateActive, Status: store.AccountStatusActive, Rev: "memo"}
		ctx := store.WithRepoHead(t.Context(), "did:plc:a", memo)
		head, err := db.GetRepoHead(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, memo, head)
		head, err = db.GetRepoHead(ctx, "did:plc:b")
		require.NoError(t, err)
		require.Equal(t, store.RepoHead{State: store.RepoStatePending, Status: store.AccountStatusActive}, head)
		_, err = db.GetRepoHead(ctx, "did:plc:nobody")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
