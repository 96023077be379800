package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestClaimResyncPriorityAndRetryAfter(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		now := time.Unix(1_700_000_000, 0)
		insert(t, db, &[]store.Repo{
			{DID: "did:plc:err", State: store.RepoStateError, Status: store.AccountStatusActive, RetryAfter: now.Unix() - 1},
			{DID: "did:plc:later", State: store.RepoStateError, Status: store.AccountStatusActive, RetryAfter: now.Unix() + 60},
			{DID: "did:plc:desync", State: store.RepoStateDesynchronized, Status: store.AccountStatusActive},
			{DID: "did:plc:pend", State: store.RepoStatePending, Status: store.AccountStatusActive},
			{DID: "did:plc:active", State: store.RepoStateActive, Status: store.AccountStatusActive},
		})
		var order []string
		for {
			r, ok, err := db.ClaimResync(t.Context(), now)
			require.NoError(t, err)
			if !ok {
				break
			}
			require.Equal(t, store.RepoStateResyncing, r.State)
			order = append(order, r.DID)
		}
		require.Equal(t, []string{"did:plc:pend", "did:plc:desync", "did:plc:err"}, order)
		_, ok, err := db.ClaimResync(t.Context(), now.Add(2*time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "retry_after passed")
	})
}

// Concurrent claimers never get the same repo.
func TestClaimResyncConcurrent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		_, err := db.AddRepos(t.Context(), dids("c", 200))
		require.NoError(t, err)
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					r, ok, err := db.ClaimResync(t.Context(), time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					seen[r.DID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, seen, 200)
		for did, n := range seen {
			require.Equal(t, 1, n, did)
		}
	})
}

func TestResyncTransitions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		_, err := db.AddRepos(ctx, []string{"did:plc:a"})
		require.NoError(t, err)
		retry := time.Now().Add(time.Minute).Truncate(time.Second)
		require.NoError(t, db.MarkResyncFailed(ctx, "did:plc:a", store.RepoStateError, "boom", retry))
		require.NoError(t, db.MarkResyncFailed(ctx, "did:plc:a", store.RepoStateError, "boom2", retry))
		r, err := db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, store.RepoStateError, r.State)
		require.Equal(t, "boom2", r.ErrorMsg)
		require.Equal(t, 2, r.RetryCount)
		require.Equal(t, retry.Unix(), r.RetryAfter)
		require.NoError(t, db.FinishResync(ctx, "did:plc:a"))
		r, err = db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, store.RepoStateError, r.State, "only a resyncing repo becomes active")
		_, ok, err := db.ClaimResync(ctx, retry.Add(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, db.FinishResync(ctx, "did:plc:a"))
		r, err = db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, store.Repo{DID: "did:plc:a", State: store.RepoStateActive, Status: store.AccountStatusActive}, r)
		require.NoError(t, db.MarkDesynchronized(ctx, "did:plc:a", "chain broken"))
		r, err = db.GetRepo(ctx, "did:plc:a")
		require.NoError(t, err)
		require.Equal(t, store.RepoStateDesynchronized, r.State)
		require.Equal(t, "chain broken", r.ErrorMsg)
		// Updates of a removed repo are no-ops, not errors.
		require.NoError(t, db.FinishResync(ctx, "did:plc:gone"))
	})
}

func TestResyncBufferAndIndexPages(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		for i := range 5 {
			require.NoError(t, db.BufferCommit(ctx, "did:plc:a", string(rune('a'+i))))
		}
		require.NoError(t, db.BufferCommit(ctx, "did:plc:b", "x"))
		page, err := db.ResyncBufferPage(ctx, "did:plc:a", 0, 3)
		require.NoError(t, err)
		require.Len(t, page, 3)
		require.Equal(t, "a", page[0].Data)
		require.NoError(t, db.DeleteResyncBuffer(ctx, page[0].ID))
		page, err = db.ResyncBufferPage(ctx, "did:plc:a", page[2].ID, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"d", "e"}, []string{page[0].Data, page[1].Data})
		n, err := db.CountResyncBuffer(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(5), n)

		// MST key order is bytewise on "collection/rkey": "a.b.c/y" < "a.b/x".
		insert(t, db, &[]store.RepoRecord{
			{DID: "did:plc:a", Collection: "a.b", RKey: "x", CID: "c1"},
			{DID: "did:plc:a", Collection: "a.b.c", RKey: "y", CID: "c2"},
			{DID: "did:plc:a", Collection: "a.b", RKey: "Z", CID: "c3"},
			{DID: "did:plc:z", Collection: "a.b", RKey: "x", CID: "c4"},
		})
		idx, err := db.RecordIndexPage(ctx, "did:plc:a", "", 2)
		require.NoError(t, err)
		require.Equal(t, []store.IndexEntry{{Path: "a.b.c/y", CID: "c2"}, {Path: "a.b/Z", CID: "c3"}}, idx)
		idx, err = db.RecordIndexPage(ctx, "did:plc:a", "a.b/Z", 2)
		require.NoError(t, err)
		require.Equal(t, []store.IndexEntry{{Path: "a.b/x", CID: "c1"}}, idx)
	})
}
